#!/usr/bin/env node
// Helpers for scripts/validate-terraform.sh and scripts/tofu-moto.sh that need to read a
// synthesized stack (cdk.tf.json). Reads the synth output; only `standins` edits, and only the
// temporary copy tofu-moto.sh applies.
//
//   node scripts/terraform-stack.mjs override <stackdir> [--local-backend]
//       writes <stackdir>/zz_iot_dr_engine_override.tf.json, which pins the providers to the
//       versions in the local mirror (IOT_DR_AWS_PROVIDER_VERSION, IOT_DR_RANDOM_PROVIDER_VERSION)
//       and, with --local-backend, replaces any backend with a local one in <stackdir>.
//       Prints one line per overridden constraint.
//   node scripts/terraform-stack.mjs resources <stackdir>
//       prints every managed resource address (type.name), one a line.
//   node scripts/terraform-stack.mjs targets <stackdir> <exclude,comma,separated>
//       prints -target=ADDR for every managed resource except the excluded ones and
//       everything that (transitively) references them. Excluded names may be a full address
//       (aws_iot_topic_rule.foo), a resource type (aws_iot_topic_rule), or TYPE+ATTR for the
//       resources of that type that set ATTR (aws_dynamodb_table+replica).
//   node scripts/terraform-stack.mjs regions <stackdir>
//       prints "alias region" for every aws provider block.
//   node scripts/terraform-stack.mjs coverage <stackdir>
//       checks that the aws provider in the engine registers the service package of every aws_*
//       type of the stack (scripts/aws-provider-cut.mjs wrote $IOT_DR_AWS_CUT/types.json, the full
//       provider's type -> package map, and services.txt, the packages built in). Exit 1, naming
//       types and packages, when one is missing (rebuild with scripts/terraform-engine.sh, which
//       widens the cut). A type the full provider does not know either is left to the engine.
//   node scripts/terraform-stack.mjs standins <stackdir>
//       EDITS the (temporary) copy in <stackdir> for an apply into moto: resources moto cannot
//       create but others depend on are replaced by stand-ins that carry the values the
//       dependents read, so that exactly those resources are left out of the apply:
//       - a DynamoDB table's `replica` (moto ignores UpdateTable ReplicaUpdates) becomes a plain
//         table of the same name and key schema, with a stream, in the replica's region;
//       - an `aws_sfn_state_machine` (moto lacks ValidateStateMachineDefinition, which the
//         provider calls before creating) becomes a `terraform_data` whose output carries the ARN
//         the state machine would have (account IOT_DR_MOTO_ACCOUNT, default moto's 123456789012).
//       References are rewritten; a reference to any other attribute of a replaced resource is an
//       error (extend the stand-in). Prints one line per stand-in.
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

function loadStack(dir) {
  // cdktf writes one cdk.tf.json; tolerate other *.tf.json siblings (except our override).
  const files = readdirSync(dir).filter((f) => f.endsWith('.tf.json') && !f.startsWith('zz_iot_dr_engine'));
  const merged = { terraform: {}, resource: {}, data: {}, provider: {} };
  for (const f of files) {
    const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    Object.assign(merged.terraform, doc.terraform ?? {});
    for (const k of ['resource', 'data']) {
      for (const [type, byName] of Object.entries(doc[k] ?? {})) {
        merged[k][type] = { ...(merged[k][type] ?? {}), ...byName };
      }
    }
    for (const [name, blocks] of Object.entries(doc.provider ?? {})) {
      merged.provider[name] = [...(merged.provider[name] ?? []), ...(Array.isArray(blocks) ? blocks : [blocks])];
    }
  }
  return merged;
}

const MIRROR = {
  aws: process.env.IOT_DR_AWS_PROVIDER_VERSION,
  random: process.env.IOT_DR_RANDOM_PROVIDER_VERSION,
};

function override(dir, localBackend) {
  const stack = loadStack(dir);
  const req = stack.terraform.required_providers ?? {};
  const out = { terraform: {} };
  const rp = {};
  for (const [local, spec] of Object.entries(req)) {
    const source = typeof spec === 'string' ? local : (spec.source ?? local);
    const type = source.split('/').pop();
    const have = MIRROR[type];
    if (!have) continue;
    const wanted = typeof spec === 'string' ? spec : spec.version;
    if (wanted === have) continue;
    rp[local] = { source, version: have };
    console.log(
      `provider ${local} (${source}): synthesized constraint "${wanted ?? '(none)'}" -> mirror version ${have}`,
    );
  }
  if (Object.keys(rp).length) out.terraform.required_providers = rp;
  if (localBackend) out.terraform.backend = { local: { path: 'terraform.tfstate' } };
  writeFileSync(join(dir, 'zz_iot_dr_engine_override.tf.json'), JSON.stringify(out, null, 2) + '\n');
}

function resources(dir) {
  const stack = loadStack(dir);
  const addrs = [];
  for (const [type, byName] of Object.entries(stack.resource)) {
    for (const name of Object.keys(byName)) addrs.push(`${type}.${name}`);
  }
  return { stack, addrs };
}

function targets(dir, excludeCsv) {
  const { stack, addrs } = resources(dir);
  const excl = new Set();
  const wanted = (excludeCsv ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // TYPE+ATTR: resources of TYPE that set ATTR (non-empty), e.g. aws_dynamodb_table+replica
  const matches = (w, a) => {
    const [type, ...rest] = a.split('.');
    if (w === a || w === type) return true;
    const [wt, attr] = w.split('+');
    if (!attr || wt !== type) return false;
    const v = stack.resource[type][rest.join('.')][attr];
    return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
  };
  for (const a of addrs) {
    if (wanted.some((w) => matches(w, a))) excl.add(a);
  }
  const unknown = wanted.filter((w) => !addrs.some((a) => matches(w, a)));
  if (unknown.length) console.error(`note: exclusions matching nothing in this stack: ${unknown.join(', ')}`);
  // Transitive closure: a resource referencing an excluded one (in an expression or
  // depends_on) is excluded too, or -target would pull the excluded one back in.
  const body = new Map(
    addrs.map((a) => {
      const [type, ...rest] = a.split('.');
      return [a, JSON.stringify(stack.resource[type][rest.join('.')])];
    }),
  );
  let changed = true;
  while (changed) {
    changed = false;
    for (const a of addrs) {
      if (excl.has(a)) continue;
      const text = body.get(a);
      for (const e of excl) {
        const esc = e.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        if (new RegExp(`(?<![\\w.-])${esc}(?=[.\\[}\\s,)"]|$)`).test(text)) {
          excl.add(a);
          console.error(`note: also excluding ${a} (references ${e})`);
          changed = true;
          break;
        }
      }
    }
  }
  for (const a of addrs) if (!excl.has(a)) console.log(`-target=${a}`);
}

function regions(dir) {
  const stack = loadStack(dir);
  for (const block of stack.provider.aws ?? []) console.log(`${block.alias ?? '(default)'} ${block.region ?? '?'}`);
}

function coverage(dir) {
  const cut = process.env.IOT_DR_AWS_CUT;
  if (!cut || !existsSync(join(cut, 'types.json'))) {
    console.error(
      'coverage: no IOT_DR_AWS_CUT/types.json (engine built before the cut provider: run scripts/terraform-engine.sh)',
    );
    process.exit(1);
  }
  const types = JSON.parse(readFileSync(join(cut, 'types.json'), 'utf8'));
  const built = new Set(readFileSync(join(cut, 'services.txt'), 'utf8').split('\n').filter(Boolean));
  const stack = loadStack(dir);
  const missing = new Map();
  for (const kind of ['resource', 'data']) {
    for (const type of Object.keys(stack[kind])) {
      const pkg = types[kind]?.[type];
      if (type.startsWith('aws_') && pkg && !built.has(pkg)) {
        missing.set(pkg, [...(missing.get(pkg) ?? []), `${kind === 'data' ? 'data.' : ''}${type}`]);
      }
    }
  }
  if (missing.size === 0) return;
  for (const [pkg, ts] of missing) {
    console.log(`service package ${pkg} (for ${ts.join(', ')}) is not in the engine's aws provider`);
  }
  process.exit(1);
}

const escapeRe = (t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Applies `rewrite` to every string in a JSON value. */
function mapStrings(value, rewrite) {
  if (typeof value === 'string') return rewrite(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, rewrite));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, rewrite)]));
  }
  return value;
}

function standins(dir) {
  const file = join(dir, 'cdk.tf.json');
  if (!existsSync(file)) throw new Error(`${file} not found`);
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  const resource = doc.resource ?? {};
  const regionOf = new Map((doc.provider?.aws ?? []).map((b) => [b.alias ? `aws.${b.alias}` : 'aws', b.region]));
  const providerIn = (region) => [...regionOf].find(([, r]) => r === region)?.[0];
  const account = process.env.IOT_DR_MOTO_ACCOUNT || '123456789012';
  /** [pattern, replacement, description] applied to every string of the document */
  const rewrites = [];
  /** addresses whose remaining references must not survive */
  const replaced = [];

  for (const [name, table] of Object.entries(resource.aws_dynamodb_table ?? {})) {
    const replicas = table.replica ?? [];
    if (replicas.length === 0) continue;
    const { replica: _r, deletion_protection_enabled: _d, ...base } = table;
    delete table.replica;
    replicas.forEach((rep, i) => {
      const provider = providerIn(rep.region_name);
      if (!provider) throw new Error(`aws_dynamodb_table.${name}: no provider for replica region ${rep.region_name}`);
      const standin = `${name}_moto_replica_${i}`;
      resource.aws_dynamodb_table[standin] = {
        ...base,
        provider,
        stream_enabled: true,
        stream_view_type: table.stream_view_type ?? 'NEW_AND_OLD_IMAGES',
      };
      // cdktf renders replica attributes as tolist(aws_dynamodb_table.NAME.replica).I.ATTR
      rewrites.push([
        new RegExp(`tolist\\(aws_dynamodb_table\\.${escapeRe(name)}\\.replica\\)\\.${i}\\.`, 'g'),
        `aws_dynamodb_table.${standin}.`,
      ]);
      console.log(
        `aws_dynamodb_table.${name} replica ${rep.region_name} -> aws_dynamodb_table.${standin} (${provider})`,
      );
    });
    replaced.push(`aws_dynamodb_table.${name}.replica`);
  }

  for (const [name, machine] of Object.entries(resource.aws_sfn_state_machine ?? {})) {
    const region = regionOf.get(machine.provider ?? 'aws');
    if (typeof machine.name !== 'string' || machine.name.includes('${')) {
      throw new Error(`aws_sfn_state_machine.${name}: a stand-in needs a literal name`);
    }
    const standin = `${name}_moto_standin`;
    resource.terraform_data = resource.terraform_data ?? {};
    resource.terraform_data[standin] = {
      input: { arn: `arn:aws:states:${region}:${account}:stateMachine:${machine.name}` },
    };
    delete resource.aws_sfn_state_machine[name];
    rewrites.push([
      new RegExp(`\\baws_sfn_state_machine\\.${escapeRe(name)}\\.arn\\b`, 'g'),
      `terraform_data.${standin}.output.arn`,
    ]);
    rewrites.push([new RegExp(`^aws_sfn_state_machine\\.${escapeRe(name)}$`), `terraform_data.${standin}`]); // depends_on
    replaced.push(`aws_sfn_state_machine.${name}`);
    console.log(`aws_sfn_state_machine.${name} -> terraform_data.${standin} (arn in ${region})`);
  }
  if (resource.aws_sfn_state_machine && Object.keys(resource.aws_sfn_state_machine).length === 0) {
    delete resource.aws_sfn_state_machine;
  }

  const out = mapStrings(doc, (text) => rewrites.reduce((t, [re, to]) => t.replace(re, to), text));
  const left = JSON.stringify(out);
  for (const r of replaced) {
    if (left.includes(r)) throw new Error(`a reference to ${r} has no stand-in value (extend standins)`);
  }
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
}

const [cmd, dir, arg] = process.argv.slice(2);
if (!cmd || !dir) {
  console.error('usage: terraform-stack.mjs override|resources|targets|regions|standins|coverage <stackdir> [arg]');
  process.exit(2);
}
switch (cmd) {
  case 'override':
    override(dir, arg === '--local-backend');
    break;
  case 'standins':
    standins(dir);
    break;
  case 'coverage':
    coverage(dir);
    break;
  case 'resources':
    console.log(resources(dir).addrs.join('\n'));
    break;
  case 'targets':
    targets(dir, arg);
    break;
  case 'regions':
    regions(dir);
    break;
  default:
    console.error(`unknown command ${cmd}`);
    process.exit(2);
}
