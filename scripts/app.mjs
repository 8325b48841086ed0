#!/usr/bin/env node
// Runs the cdktf app without type-checking: esbuild bundles main.ts (dependencies stay external,
// so only the provider classes the stack imports are loaded), then the bundle runs in-process.
// `cdktf synth` runs this through cdktf.json; `npm run synth` runs it directly.
import { buildSync } from 'esbuild';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const stacks = join(process.cwd(), 'cdktf.out', 'stacks');
  for (const name of readdirSync(stacks)) {
    console.log(
      `Synthesized Terraform for both regions: ${relative(process.cwd(), join(stacks, name, 'cdk.tf.json'))}`,
    );
  }
}
