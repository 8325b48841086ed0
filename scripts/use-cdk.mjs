#!/usr/bin/env node
// Moves the project between CDK for Terraform (cdktf, archived by HashiCorp on 2025-12-10) and
// its community fork CDK Terrain (cdktn), both ways:
//
//   npm run use:cdktn      # package.json aliases -> cdktn + @cdktn/provider-*, then npm install
//   npm run use:cdktf      # back
//   node scripts/use-cdk.mjs cdktn|cdktf [--dir DIR] [--no-install]
//
// The packages keep their names through npm aliases ("cdktf": "npm:cdktn@0.24.0", ...), so no
// import in the code changes, cdktf.json stays, and `npm ci` works from the lock file this writes
// (no legacy-peer-deps: constructs is pinned to a version both accept, >=10.6.0 <10.8.0).
// The CLI's command becomes `npx cdktn` (the bin of cdktn-cli); `npm run cdk -- ...` picks the
// installed one. See README "Moving to CDK Terrain".
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The exact versions of each side. cdktn 0.24.0 = cdktf 0.21 + fixes; provider-aws 25.7.0 = AWS provider 6.66.0. */
export const FLAVOURS = {
  cdktf: {
    dependencies: {
      cdktf: '0.21.0',
      '@cdktf/provider-aws': '21.22.1',
      '@cdktf/provider-random': '12.0.1',
    },
    devDependencies: { 'cdktf-cli': '0.21.0' },
  },
  cdktn: {
    dependencies: {
      cdktf: 'npm:cdktn@0.24.0',
      '@cdktf/provider-aws': 'npm:@cdktn/provider-aws@25.7.0',
      '@cdktf/provider-random': 'npm:@cdktn/provider-random@15.0.1',
    },
    devDependencies: { 'cdktf-cli': 'npm:cdktn-cli@0.24.0' },
  },
};

/** The flavour a package.json is on now. */
export function flavourOf(pkg) {
  return String(pkg.dependencies?.cdktf ?? '').startsWith('npm:cdktn@') ? 'cdktn' : 'cdktf';
}

/** package.json rewritten for `flavour` (only the CDK entries change). */
export function rewrite(pkg, flavour) {
  const out = structuredClone(pkg);
  for (const section of ['dependencies', 'devDependencies']) {
    for (const [name, spec] of Object.entries(FLAVOURS[flavour][section])) {
      if (!out[section] || !(name in out[section])) throw new Error(`package.json has no ${section}.${name}`);
      out[section][name] = spec;
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: 'string' }, 'no-install': { type: 'boolean', default: false } },
  });
  const flavour = positionals[0];
  if (!(flavour in FLAVOURS)) {
    console.error('usage: use-cdk.mjs cdktn|cdktf [--dir DIR] [--no-install]');
    process.exit(2);
  }
  const dir = resolve(values.dir ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const file = join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const from = flavourOf(pkg);
  writeFileSync(file, `${JSON.stringify(rewrite(pkg, flavour), null, 2)}\n`);
  console.log(`package.json: ${from} -> ${flavour}`);
  if (!values['no-install']) {
    // An explicit false: a user-level legacy-peer-deps must not hide a real conflict.
    const run = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--legacy-peer-deps=false'], {
      cwd: dir,
      stdio: 'inherit',
    });
    if (run.status !== 0) process.exit(run.status ?? 1);
    console.log(
      `now on ${flavour}: commit package.json and package-lock.json; the CLI is \`npx ${flavour}\` (or \`npm run cdk -- ...\`)`,
    );
  }
}
