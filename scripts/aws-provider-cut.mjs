#!/usr/bin/env node
// Cut the AWS provider's two generated registration lists down to the service packages a
// synthesized stack uses, as a `go build -overlay` (the module source stays untouched).
//
//   node scripts/aws-provider-cut.mjs --src <terraform-provider-aws module dir> --out <dir> \
//        [--go go] <stack dir or cdk.tf.json>...
//
// 1. Every resource / data source / ephemeral type of the stacks (`aws_*`) is looked up in the
//    provider's own registrations, internal/service/<pkg>/service_package_gen.go (generated from
//    the provider's `@SDKResource("aws_sqs_queue", ...)` annotations: it is the list the provider
//    registers, per service package). A type found nowhere is reported and left to the engine,
//    which refuses it ("Invalid resource type"), as the full provider would.
// 2. internal/provider/sdkv2/service_packages_gen.go (the list of ServicePackage(ctx) calls the
//    SDKv2 provider registers, and which the framework provider reads back from it) keeps only
//    those packages plus the closure below.
// 3. internal/conns/awsclient_gen.go (one SDK client accessor per service) keeps only the
//    accessors called by a package of the build; unused SDK imports go with them.
// 4. Closure, iterated to a fixed point: every internal/service package the build imports
//    (`go list -deps` with the overlay) is registered too, and so is the service package each kept
//    accessor asks for at run time (client[T](ctx, c, names.X) looks the package up by name).
//
// Writes into --out: service_packages_gen.go, awsclient_gen.go, overlay.json (for
// `go build -overlay`), services.txt (registered packages), types.json ({resource,data,ephemeral}:
// type -> package, for every type the FULL provider registers) and stack-types.txt.
// No provider logic is edited: only lines of the two generated lists are dropped.
import { readFileSync, writeFileSync, readdirSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';

const MODULE = 'github.com/hashicorp/terraform-provider-aws';
const SP_FILE = 'internal/provider/sdkv2/service_packages_gen.go';
const CLIENT_FILE = 'internal/conns/awsclient_gen.go';

function die(msg) {
  console.error(`aws-provider-cut: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { src: '', out: '', go: 'go', stacks: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--src') o.src = argv[++i];
    else if (a === '--out') o.out = argv[++i];
    else if (a === '--go') o.go = argv[++i];
    else o.stacks.push(a);
  }
  if (!o.src || !o.out || o.stacks.length === 0) {
    die('usage: aws-provider-cut.mjs --src <provider dir> --out <dir> [--go go] <stack dir|cdk.tf.json>...');
  }
  return o;
}

/** aws_* types of every stack, by kind. */
export function stackTypes(paths) {
  const kinds = { resource: new Set(), data: new Set(), ephemeral: new Set() };
  for (const p of paths) {
    const files = statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith('.tf.json') && !f.startsWith('zz_iot_dr_engine'))
          .map((f) => join(p, f))
      : [p];
    if (files.length === 0) die(`no *.tf.json in ${p}`);
    for (const f of files) {
      const doc = JSON.parse(readFileSync(f, 'utf8'));
      for (const k of Object.keys(kinds)) {
        for (const t of Object.keys(doc[k] ?? {})) if (t.startsWith('aws_')) kinds[k].add(t);
      }
    }
  }
  return kinds;
}

/** Every type the provider registers: {resource, data, ephemeral}: Map type -> package. */
export function providerTypes(src) {
  const maps = { resource: new Map(), data: new Map(), ephemeral: new Map() };
  const dir = join(src, 'internal/service');
  for (const pkg of readdirSync(dir).sort()) {
    const f = join(dir, pkg, 'service_package_gen.go');
    if (!existsSync(f)) continue;
    let kind = null;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const fn = /^func \(p \*servicePackage\) (\w+)\(/.exec(line);
      if (fn) {
        const n = fn[1];
        // ListResources and Actions are not configuration block types
        kind = /ListResources|Actions/.test(n)
          ? null
          : /Ephemeral/.test(n)
            ? 'ephemeral'
            : /DataSources$/.test(n)
              ? 'data'
              : /Resources$/.test(n)
                ? 'resource'
                : null;
        continue;
      }
      const t = /^\s*TypeName:\s*"(aws_\w+)"/.exec(line);
      if (t && kind) {
        const prev = maps[kind].get(t[1]);
        if (prev && prev !== pkg) die(`${kind} ${t[1]} registered by both ${prev} and ${pkg}`);
        maps[kind].set(t[1], pkg);
      }
    }
  }
  if (maps.resource.size === 0) die(`no resource type found under ${dir}: layout changed?`);
  return maps;
}

/** service_packages_gen.go keeping only `keep` (a Set of package names). */
export function cutServicePackages(text, keep) {
  const seen = new Set();
  const out = [];
  for (const line of text.split('\n')) {
    const imp = new RegExp(`^\\s*"${MODULE}/internal/service/(\\w+)"\\s*$`).exec(line);
    if (imp) {
      if (keep.has(imp[1])) out.push(line);
      continue;
    }
    const call = /^\s*(\w+)\.ServicePackage\(ctx\),\s*$/.exec(line);
    if (call) {
      if (keep.has(call[1])) {
        out.push(line);
        seen.add(call[1]);
      }
      continue;
    }
    out.push(line);
  }
  const missing = [...keep].filter((p) => !seen.has(p));
  if (missing.length) die(`${SP_FILE} has no ServicePackage(ctx) line for ${missing.join(', ')}: format changed?`);
  return out.join('\n');
}

/** Accessor blocks of awsclient_gen.go: [{name, serviceConst, text}] plus header (imports) and the rest. */
export function parseClients(text) {
  const start = text.indexOf('\nfunc (c *AWSClient) ');
  if (start < 0) die(`${CLIENT_FILE}: no accessor found: format changed?`);
  const header = text.slice(0, start + 1);
  const body = text.slice(start + 1);
  const blocks = body.split(/\n(?=func \(c \*AWSClient\) )/);
  const accessors = blocks.map((b) => {
    const m = /^func \(c \*AWSClient\) (\w+)\(ctx context\.Context\)[^{]*\{\n([\s\S]*?)\n\}\s*$/.exec(b);
    if (!m) die(`${CLIENT_FILE}: unexpected block:\n${b.slice(0, 300)}`);
    const sc = /names\.(\w+)/.exec(m[2]);
    if (!sc) die(`${CLIENT_FILE}: ${m[1]} names no service package constant`);
    return { name: m[1], serviceConst: sc[1], text: b.replace(/\s*$/, '') };
  });
  return { header, accessors };
}

/** awsclient_gen.go with only the accessors in `keep` (Set of names), unused imports dropped. */
export function cutClients(text, keep) {
  const { header, accessors } = parseClients(text);
  const kept = accessors.filter((a) => keep.has(a.name));
  const code = kept.map((a) => a.text).join('\n\n');
  const lines = header.split('\n').filter((line) => {
    const imp = /^\s*(?:(\w+)\s+)?"([^"]+)"\s*$/.exec(line);
    if (!imp) return true;
    const alias = imp[1] ?? imp[2].split('/').pop();
    if (alias === 'context') return true;
    return new RegExp(`\\b${alias}\\.`).test(code);
  });
  return `${lines.join('\n')}${code}\n`;
}

/** names constant -> value (names/consts_gen.go: `STS = "sts"`). */
function nameConstants(src) {
  const m = new Map();
  for (const line of readFileSync(join(src, 'names/consts_gen.go'), 'utf8').split('\n')) {
    const c = /^\s*(\w+)\s*=\s*"([^"]+)"/.exec(line);
    if (c) m.set(c[1], c[2]);
  }
  return m;
}

function goList(go, src, overlay, format) {
  return execFileSync(go, ['list', `-overlay=${overlay}`, '-deps', '-f', format, '.'], {
    cwd: src,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const src = resolve(o.src);
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const types = providerTypes(src);
  const wanted = stackTypes(o.stacks);

  const keep = new Set();
  const unknown = [];
  for (const kind of Object.keys(wanted)) {
    for (const t of [...wanted[kind]].sort()) {
      const pkg = types[kind].get(t);
      if (pkg) keep.add(pkg);
      else unknown.push(`${kind} ${t}`);
    }
  }
  if (unknown.length) {
    console.error(
      `aws-provider-cut: not registered by this provider (left for the engine to refuse): ${unknown.join(', ')}`,
    );
  }
  console.error(
    `aws-provider-cut: the stacks' types need ${keep.size} service packages: ${[...keep].sort().join(' ')}`,
  );

  const spText = readFileSync(join(src, SP_FILE), 'utf8');
  const clientText = readFileSync(join(src, CLIENT_FILE), 'utf8');
  const { accessors } = parseClients(clientText);
  const consts = nameConstants(src);
  const spOut = join(out, 'service_packages_gen.go');
  const clientOut = join(out, 'awsclient_gen.go');
  const overlay = join(out, 'overlay.json');
  writeFileSync(
    overlay,
    `${JSON.stringify({ Replace: { [join(src, SP_FILE)]: spOut, [join(src, CLIENT_FILE)]: clientOut } }, null, 2)}\n`,
  );
  // No accessor while the closure is computed: `go list` does not type-check, and the full list
  // would make it download all ~260 SDK service modules.
  writeFileSync(clientOut, cutClients(clientText, new Set()));

  let usedAccessors = new Set();
  for (let round = 1; ; round++) {
    if (round > 10) die('closure did not settle in 10 rounds');
    writeFileSync(spOut, cutServicePackages(spText, keep));
    const listing = goList(o.go, src, overlay, '{{.ImportPath}}|{{.Dir}}|{{join .GoFiles ","}}');
    const before = keep.size;
    usedAccessors = new Set();
    const accessorNames = new Set(accessors.map((a) => a.name));
    for (const row of listing.split('\n')) {
      const [path, dir, files] = row.split('|');
      if (!path?.startsWith(`${MODULE}/`)) continue;
      const svc = new RegExp(`^${MODULE}/internal/service/(\\w+)$`).exec(path);
      if (svc && existsSync(join(src, 'internal/service', svc[1], 'service_package_gen.go'))) keep.add(svc[1]);
      for (const f of (files ?? '').split(',').filter(Boolean)) {
        const file = join(dir, f);
        if (file === join(src, CLIENT_FILE)) continue;
        for (const m of readFileSync(file, 'utf8').matchAll(/\.(\w+Client)\(/g)) {
          if (accessorNames.has(m[1])) usedAccessors.add(m[1]);
        }
      }
    }
    for (const a of accessors) {
      if (!usedAccessors.has(a.name)) continue;
      const pkg = consts.get(a.serviceConst);
      if (!pkg || !existsSync(join(src, 'internal/service', pkg, 'service_package_gen.go'))) {
        die(`accessor ${a.name} asks for names.${a.serviceConst} (${pkg}): no such service package`);
      }
      keep.add(pkg);
    }
    console.error(`aws-provider-cut: round ${round}: ${keep.size} packages, ${usedAccessors.size} client accessors`);
    if (keep.size === before) break;
  }
  writeFileSync(spOut, cutServicePackages(spText, keep));
  writeFileSync(clientOut, cutClients(clientText, usedAccessors));
  writeFileSync(join(out, 'services.txt'), `${[...keep].sort().join('\n')}\n`);
  const all = Object.fromEntries(
    Object.entries(types).map(([k, m]) => [k, Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)))]),
  );
  writeFileSync(join(out, 'types.json'), `${JSON.stringify(all)}\n`);
  writeFileSync(
    join(out, 'stack-types.txt'),
    `${Object.entries(wanted)
      .flatMap(([k, s]) => [...s].sort().map((t) => `${k} ${t}`))
      .join('\n')}\n`,
  );
  const total = readdirSync(join(src, 'internal/service')).filter((p) =>
    existsSync(join(src, 'internal/service', p, 'service_package_gen.go')),
  ).length;
  console.log(
    `registered ${keep.size} of ${total} service packages (${[...keep].sort().join(' ')}); ${usedAccessors.size} of ${accessors.length} client accessors`,
  );
}

main();
