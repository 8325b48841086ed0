#!/usr/bin/env node
// Runs the cdktf app without type-checking: esbuild bundles main.ts (dependencies stay external,
// so only the provider classes the stack imports are loaded), then the bundle runs in-process.
// `cdktf synth` runs this through cdktf.json; `npm run synth` runs it directly, and then does
// what the cdktf CLI does after a synth: prints the stacks' warnings (annotations), removes stack
// folders the configuration no longer produces (a changed namePrefix), and lists the stacks the
// manifest holds.
import { buildSync } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStacks } from './manifest.mjs';

process.env.CHECKPOINT_DISABLE ??= '1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.build', 'app', 'main.cjs');
buildSync({
  entryPoints: [join(root, 'main.ts')],
  absWorkingDir: root,
  bundle: true,
  packages: 'external',
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outfile,
  logLevel: 'warning',
  // Keep __dirname meaningful inside the bundle: stacks/bundle.ts locates functions/ from it.
  define: { __IOT_DR_ROOT__: JSON.stringify(root) },
});
createRequire(import.meta.url)(outfile);
if (!process.env.CDKTF_OUTDIR) {
  const stacks = readStacks('cdktf.out');
  const levels = { '@cdktf/info': 'Info', '@cdktf/warn': 'Warning', '@cdktf/error': 'Error' };
  for (const stack of stacks) {
    for (const a of stack.annotations) {
      const level = levels[a.level] ?? a.level;
      const line = `${level}: [${a.constructPath}] ${a.message}`;
      if (level === 'Info') console.log(line);
      else console.error(line);
    }
  }
  const folder = join(process.cwd(), 'cdktf.out', 'stacks');
  const names = new Set(stacks.map((s) => s.name));
  for (const name of existsSync(folder) ? readdirSync(folder) : []) {
    if (names.has(name)) continue;
    rmSync(join(folder, name), { recursive: true, force: true });
    console.log(`Removed ${relative(process.cwd(), join(folder, name))}: this configuration no longer has that stack`);
  }
  for (const stack of stacks) console.log(`Synthesized Terraform for both regions: ${stack.file}`);
}
