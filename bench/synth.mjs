#!/usr/bin/env node
// Measures the synth (`node scripts/app.mjs`, bundling of every Lambda included) against the cost
// of importing @cdktf/provider-aws from its package root, which the synth must beat.
// Usage: npm run bench:synth [-- RUNS]   (default 7 runs each; prints medians and extremes)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? 7);

function time(args, cwd) {
  const t0 = process.hrtime.bigint();
  execFileSync(process.execPath, args, { cwd, stdio: 'ignore', env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}

const synth = [];
const rootImport = [];
for (let i = 0; i < runs; i++) {
  const cwd = mkdtempSync(join(tmpdir(), 'iot-dr-bench-'));
  synth.push(time([join(root, 'scripts', 'app.mjs')], cwd));
  rmSync(cwd, { recursive: true, force: true });
  rootImport.push(time(['-e', "require('@cdktf/provider-aws')"], root));
}
const fmt = (x) => `${x.toFixed(0)} ms`;
const a = stats(synth);
const b = stats(rootImport);
console.log(`node ${process.version}, ${runs} runs each`);
console.log(`synth (node scripts/app.mjs):             median ${fmt(a.median)}  min ${fmt(a.min)}  max ${fmt(a.max)}`);
console.log(`require('@cdktf/provider-aws') alone:     median ${fmt(b.median)}  min ${fmt(b.min)}  max ${fmt(b.max)}`);
console.log(`synth / provider-root import: ${(a.median / b.median).toFixed(2)}`);
