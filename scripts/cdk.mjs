#!/usr/bin/env node
// `npm run cdk -- <synth|diff|deploy|destroy|output|...> [args]`: the cdktf/cdktn CLI, whichever
// this checkout has installed (see README "Moving to CDK Terrain"), after checking the
// configuration first. The CLI itself exits 1 on any failure of the app and prints its output
// twice; checked here, a bad configuration prints its message once and exits 2, as everywhere
// else in the project.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

process.env.CHECKPOINT_DISABLE ??= '1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, '.build', 'app', 'config.cjs');
buildSync({
  entryPoints: [join(root, 'config', 'load.ts')],
  bundle: true,
  packages: 'external',
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  outfile,
  logLevel: 'warning',
});
const { loadConfig, ConfigError } = createRequire(import.meta.url)(outfile);
try {
  loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}

/** `cdktn` once the project moved to CDK Terrain, `cdktf` before. */
export function cliName(dir = root) {
  return existsSync(join(dir, 'node_modules', '.bin', 'cdktn')) ? 'cdktn' : 'cdktf';
}
const bin = join(root, 'node_modules', '.bin', cliName());
const run = spawnSync(bin, process.argv.slice(2), { stdio: 'inherit' });
if (run.error) {
  console.error(`cdk: cannot run ${bin}: ${run.error.message} (run npm ci first)`);
  process.exit(1);
}
process.exit(run.status ?? 1);
