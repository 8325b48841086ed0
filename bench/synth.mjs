#!/usr/bin/env node
// Measures the synth (`node scripts/app.mjs`, bundling of every Lambda included) against the cost
// of importing @cdktf/provider-aws from its package root, which the synth must beat.
// Usage: npm run bench:synth [-- RUNS]   (default 7 runs each; prints medians and extremes)
// Run it on a quiet machine: other load inflates every number.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? 7);

function time(args, cwd, env = {}) {
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, args, {
    cwd,
    stdio: 'ignore',
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env },
  });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}

const cold = [];
const warm = [];
const rootImport = [];
const app = join(root, 'scripts', 'app.mjs');
for (let i = 0; i < runs; i++) {
  const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-bench-'));
  // Cold: every Lambda bundled and zipped again. Warm: zips reused from .build/lambda.
  cold.push(time([app], cwd, { IOT_DR_NO_BUNDLE_CACHE: '1' }));
  warm.push(time([app], cwd));
  rmSync(cwd, { recursive: true, force: true });
  rootImport.push(time(['-e', "require('@cdktf/provider-aws')"], root));
}
const fmt = (x) => `${x.toFixed(0)} ms`;
const b = stats(rootImport);
const line = (label, s) =>
  console.log(`${label.padEnd(48)} median ${fmt(s.median)}  min ${fmt(s.min)}  max ${fmt(s.max)}`);
console.log(`node ${process.version}, ${runs} runs each`);
line('synth, every Lambda bundled (cold):', stats(cold));
line('synth, bundles reused from .build (warm):', stats(warm));
line("require('@cdktf/provider-aws') alone:", b);
console.log(`cold synth / provider-root import: ${(stats(cold).median / b.median).toFixed(2)}`);
