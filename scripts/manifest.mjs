#!/usr/bin/env node
// Reads cdktf.out/manifest.json (written by every synth, cdktf or cdktn): the stacks this
// configuration synthesized, where each one's Terraform is, and its annotations (warnings).
//
//   node scripts/manifest.mjs stack-dir [outdir]   prints the one stack's working directory
//                                                  (e.g. cdktf.out/stacks/acme-dr); exit 1 if
//                                                  the manifest is missing or has != 1 stack
//   node scripts/manifest.mjs tfe-hostname [outdir] prints the Terraform Cloud / Enterprise
//                                                  hostname of the stack's backend (cloud or
//                                                  remote), or nothing for s3/local
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The manifest's stacks: name, working directory and Terraform file (relative to cwd), annotations. */
export function readStacks(outdir = 'cdktf.out', cwd = process.cwd()) {
  const file = join(cwd, outdir, 'manifest.json');
  if (!existsSync(file)) throw new Error(`${relative(cwd, file)} not found: run \`npm run synth\` first`);
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  return Object.values(manifest.stacks ?? {}).map((s) => ({
    name: s.name,
    dir: relative(cwd, join(cwd, outdir, s.workingDirectory)),
    file: relative(cwd, join(cwd, outdir, s.synthesizedStackPath)),
    annotations: s.annotations ?? [],
  }));
}

/** Hostname of a `cloud` block or `remote` backend in a synthesized stack, else undefined. */
export function tfeHostname(file) {
  const terraform = JSON.parse(readFileSync(file, 'utf8')).terraform ?? {};
  const cloud = terraform.cloud ?? terraform.backend?.remote;
  return cloud ? (cloud.hostname ?? 'app.terraform.io') : undefined;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [cmd, outdir] = process.argv.slice(2);
  if (cmd !== 'stack-dir' && cmd !== 'tfe-hostname') {
    console.error('usage: manifest.mjs stack-dir|tfe-hostname [outdir]');
    process.exit(2);
  }
  try {
    const stacks = readStacks(outdir);
    if (stacks.length !== 1) throw new Error(`expected one stack in the manifest, found ${stacks.length}`);
    if (cmd === 'stack-dir') console.log(stacks[0].dir);
    else console.log(tfeHostname(stacks[0].file) ?? '');
  } catch (err) {
    console.error(`manifest: ${err.message}`);
    process.exit(1);
  }
}
