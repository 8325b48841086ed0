#!/usr/bin/env node
// Judges checkov JSON reports against the reviewed skip list (scripts/checkov-skips.json).
//
//   node scripts/checkov-report.mjs <skips.json> <stackdir>=<report.json>...
//
// Prints a summary per report, then every failed check whose id is not in the skip list as
//   NEW CKV_AWS_123 <resource type>.<name> (<stack file>:<lines>) <check name>
// and exits 1 if there is any (also on a report with parsing errors or no resource checked).
// Skip-list ids that no longer fail anywhere are reported as stale (exit 0: another branch may
// still need them).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [skipFile, ...pairs] = process.argv.slice(2);
if (!skipFile || pairs.length === 0) {
  console.error('usage: checkov-report.mjs <skips.json> <stackdir>=<report.json>...');
  process.exit(2);
}
const skips = JSON.parse(readFileSync(skipFile, 'utf8')).skips ?? {};
for (const [id, s] of Object.entries(skips)) {
  if (!s?.reason || !['acceptable', 'false-positive'].includes(s.verdict)) {
    console.error(`${skipFile}: ${id} needs a verdict (acceptable | false-positive) and a reason`);
    process.exit(2);
  }
}

/** checkov names terraform_json resources "resource.<name>": find the type in the stack. */
function typeIndex(stackDir) {
  const doc = JSON.parse(readFileSync(join(stackDir, 'cdk.tf.json'), 'utf8'));
  const byName = new Map();
  for (const [kind, prefix] of [
    ['resource', ''],
    ['data', 'data.'],
  ]) {
    for (const [type, names] of Object.entries(doc[kind] ?? {})) {
      for (const name of Object.keys(names)) byName.set(`${kind}.${name}`, `${prefix}${type}.${name}`);
    }
  }
  return byName;
}

let failed = false;
const failingIds = new Set();
const fresh = [];
for (const pair of pairs) {
  const eq = pair.indexOf('=');
  const [stackDir, reportFile] = [pair.slice(0, eq), pair.slice(eq + 1)];
  const raw = JSON.parse(readFileSync(reportFile, 'utf8'));
  const runs = (Array.isArray(raw) ? raw : [raw]).filter((r) => r.check_type === 'terraform_json');
  if (runs.length === 0) {
    console.error(`${stackDir}: checkov reported no terraform_json run`);
    failed = true;
    continue;
  }
  const addr = typeIndex(stackDir);
  for (const run of runs) {
    const s = run.summary;
    console.log(`${stackDir}: ${s.passed} passed, ${s.failed} failed (checkov ${s.checkov_version})`);
    if (s.parsing_errors > 0) {
      console.error(`${stackDir}: ${s.parsing_errors} parsing error(s)`);
      failed = true;
    }
    if (s.passed + s.failed === 0) {
      console.error(`${stackDir}: no check ran (wrong framework?)`);
      failed = true;
    }
    for (const f of run.results.failed_checks ?? []) {
      failingIds.add(f.check_id);
      if (skips[f.check_id]) continue;
      const where = `${f.file_path.replace(/^\//, '')}:${(f.file_line_range ?? []).join('-')}`;
      fresh.push(`NEW ${f.check_id} ${addr.get(f.resource) ?? f.resource} (${stackDir}/${where}) ${f.check_name}`);
    }
  }
}
const counts = [...failingIds].sort().map((id) => `${id}${skips[id] ? '' : ' (NEW)'}`);
console.log(`failed check ids: ${counts.join(', ') || 'none'}`);
const stale = Object.keys(skips).filter((id) => !failingIds.has(id));
if (stale.length)
  console.log(`note: skip-list ids that no longer fail (remove them if no branch needs them): ${stale.join(', ')}`);
if (fresh.length) {
  console.error(`\ncheckov: ${fresh.length} failed check(s) not in ${skipFile}:`);
  for (const line of [...new Set(fresh)]) console.error(`  ${line}`);
  console.error('Fix the stack, or review each id and add it to the skip list with its verdict and reason.');
  failed = true;
}
if (failed) process.exit(1);
console.log('checkov: every failed check is a reviewed skip');
