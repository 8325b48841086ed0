#!/usr/bin/env node
// The `iot-dr` executable. Runs on a fresh clone after `npm ci` with no build step: the first run
// (and any run after a source file changed) bundles cli/main.ts with esbuild into
// .build/cli/iot-dr.cjs, later runs load the bundle directly. Packages stay external (loaded
// from node_modules), and commands load their modules only when they run, so `--help` is fast.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

// The CLI needs Node >= 22 (package.json engines; the drill's Step Functions interpreter uses
// Promise.withResolvers). Started by an older node (e.g. `node bin/iot-dr.js` on a machine whose
// system Node is 20), it re-runs itself under the project's own Node 22 (the `node`
// devDependency), or says what to do.
if (Number(process.versions.node.split('.')[0]) < 22) {
  const local = path.join(root, 'node_modules', 'node', 'bin', 'node');
  if (!process.env.IOT_DR_NODE_REEXEC && fs.existsSync(local)) {
    const run = require('node:child_process').spawnSync(local, [__filename, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, IOT_DR_NODE_REEXEC: '1' },
    });
    if (run.signal) process.kill(process.pid, run.signal);
    process.exit(run.error ? 1 : (run.status ?? 1));
  }
  process.stderr.write(
    `iot-dr: Node.js >= 22 is required (this is ${process.version}); run \`npm ci\` in ${root} (it installs Node 22 for the project) or install Node 22\n`,
  );
  process.exit(2);
}
const out = path.join(root, '.build', 'cli', 'iot-dr.cjs');
const SOURCE_DIRS = ['cli', 'config', 'functions', 'stacks'].map((d) => path.join(root, d));

function newestSource(dir, since) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (newestSource(p, since)) return true;
    } else if (e.name.endsWith('.ts') && fs.statSync(p).mtimeMs > since) {
      return true;
    }
  }
  return false;
}

function stale() {
  let built;
  try {
    built = fs.statSync(out).mtimeMs;
  } catch {
    return true;
  }
  return (
    SOURCE_DIRS.some((d) => newestSource(d, built)) || fs.statSync(path.join(root, 'package-lock.json')).mtimeMs > built
  );
}

if (stale()) {
  const esbuild = require('esbuild');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Built next to the target and renamed: concurrent first runs never load half a file.
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    esbuild.buildSync({
      entryPoints: [path.join(root, 'cli', 'main.ts')],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'error',
    });
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    process.stderr.write(
      `iot-dr: internal error: could not build the CLI from its sources (${err.message.split('\n')[0]})\n`,
    );
    process.exit(1);
  }
  fs.renameSync(tmp, out);
}

require(out).main();
