/**
 * Synth-time bundling of `functions/<name>/handler.ts` into a deterministic Lambda zip.
 *
 * esbuild output is a pure function of its inputs; the zip is made byte-stable by writing its
 * entries in a fixed order with a fixed timestamp and fixed permissions (cdktf's own
 * `TerraformAsset` archives embed file times, so they change on every checkout).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { type BuildOptions, buildSync, version as esbuildVersion } from 'esbuild';
import { zipSync } from 'fflate';

declare const __IOT_DR_ROOT__: string | undefined;

/**
 * Project root: this file lives in `<root>/stacks`, unless scripts/app.mjs bundled it, in which
 * case the bundler defines the root.
 */
export const PROJECT_ROOT = typeof __IOT_DR_ROOT__ === 'string' ? __IOT_DR_ROOT__ : resolve(__dirname, '..');

/**
 * 1980-01-01 00:00, the earliest time a zip entry can hold. Zip (DOS) times are local times and
 * fflate reads them with the local-time getters, so the date is built in local time too: the
 * bytes are then the same in every time zone.
 */
const ZIP_EPOCH = new Date(1980, 0, 1, 0, 0, 0);

/** Bumped whenever the zip layout below changes, so cached zips are rebuilt. */
const ZIP_FORMAT = 1;

export interface LambdaBundle {
  /** Absolute path of the zip. */
  readonly zipPath: string;
  /** base64 SHA-256 of the zip, as Lambda's `source_code_hash` expects. */
  readonly sha256: string;
  /** Bytes of the bundled handler (without source map). */
  readonly codeBytes: number;
}

const memo = new Map<string, LambdaBundle>();

/** What a cached zip was built from: the build options and the content hash of every input. */
interface BuildManifest {
  readonly key: string;
  readonly inputs: Record<string, string>;
  readonly sha256: string;
  readonly codeBytes: number;
}

const sha256 = (data: Uint8Array | string, encoding: 'hex' | 'base64' = 'hex') =>
  createHash('sha256').update(data).digest(encoding);

function readManifest(path: string): BuildManifest | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BuildManifest;
  } catch {
    return undefined;
  }
}

/** True when every input still has the content it had when the zip was built. */
function inputsUnchanged(manifest: BuildManifest): boolean {
  for (const [file, hash] of Object.entries(manifest.inputs)) {
    let content: Buffer;
    try {
      content = readFileSync(join(PROJECT_ROOT, file));
    } catch {
      return false;
    }
    if (sha256(content) !== hash) return false;
  }
  return true;
}

function writeAtomically(path: string, data: Uint8Array | string): void {
  // Parallel test workers may bundle the same function: write aside, then rename atomically.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** esbuild options shared by every function; entry points and output folder are added per build. */
const BUILD_OPTIONS: BuildOptions = {
  absWorkingDir: PROJECT_ROOT,
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  // Prefer packages' ES module builds (the AWS SDK ships both): they tree-shake far better,
  // which shrinks the bundle by about a third and shortens cold starts accordingly.
  mainFields: ['module', 'main'],
  minify: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  write: false,
  metafile: true,
  logLevel: 'silent',
  // The AWS SDK's optional CRT bindings are never used by these functions.
  external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
};

/** Everything that changes a zip besides its inputs' content. */
const CACHE_KEY = sha256(
  JSON.stringify({ esbuild: esbuildVersion, zip: ZIP_FORMAT, options: { ...BUILD_OPTIONS, absWorkingDir: '' } }),
);

/** Where a function's zip and its build manifest live. */
function paths(name: string, outDir: string) {
  const zipPath = join(outDir, `${name}.zip`);
  return { zipPath, manifestPath: `${zipPath}.manifest.json` };
}

/** The cached bundle of `name`, when nothing it was built from changed. */
function cachedBundle(name: string, outDir: string): LambdaBundle | undefined {
  // IOT_DR_NO_BUNDLE_CACHE=1 forces a fresh build (the determinism test uses it).
  if (process.env.IOT_DR_NO_BUNDLE_CACHE === '1') return undefined;
  const { zipPath, manifestPath } = paths(name, outDir);
  const manifest = readManifest(manifestPath);
  if (!manifest || manifest.key !== CACHE_KEY || !existsSync(zipPath) || !inputsUnchanged(manifest)) return undefined;
  if (sha256(readFileSync(zipPath), 'base64') !== manifest.sha256) return undefined;
  return { zipPath, sha256: manifest.sha256, codeBytes: manifest.codeBytes };
}

/** Zips `index.js` + `index.js.map` with fixed order, time and permissions. */
function deterministicZip(files: Record<string, Uint8Array>): Uint8Array {
  const entries = Object.keys(files)
    .sort()
    .reduce<Record<string, [Uint8Array, { mtime: Date; attrs: number; os: number }]>>((acc, k) => {
      // attrs: regular file, mode 0644, in the high 16 bits; os 3 = Unix.
      acc[k] = [files[k], { mtime: ZIP_EPOCH, attrs: (0o100644 << 16) >>> 0, os: 3 }];
      return acc;
    }, {});
  return zipSync(entries, { level: 9 });
}

/**
 * Builds several functions in ONE esbuild call (shared modules are parsed once: about half the
 * time of separate builds; each output is byte-identical to a separate build, as no code is
 * split between them), then zips each and records its manifest.
 */
function buildAll(names: readonly string[], functionsDir: string, outDir: string): Map<string, LambdaBundle> {
  const bundleDir = join(PROJECT_ROOT, '.build', 'bundle');
  const result = buildSync({
    ...BUILD_OPTIONS,
    entryPoints: names.map((name) => ({ in: join(functionsDir, name, 'handler.ts'), out: `${name}/index` })),
    // Source paths in the maps are relative to each output file, never absolute: the maps stay
    // identical whichever folder the project was cloned into.
    outdir: bundleDir,
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for functions ${names.join(', ')}: ${result.errors.map((e) => e.text).join('; ')}`);
  }
  mkdirSync(outDir, { recursive: true });
  const built = new Map<string, LambdaBundle>();
  for (const name of names) {
    const codePath = join(bundleDir, name, 'index.js');
    const code = result.outputFiles?.find((f) => f.path === codePath);
    const map = result.outputFiles?.find((f) => f.path === `${codePath}.map`);
    if (!code || !map) throw new Error(`esbuild produced no output for functions/${name}`);
    const zip = deterministicZip({ 'index.js': code.contents, 'index.js.map': map.contents });
    const { zipPath, manifestPath } = paths(name, outDir);
    writeAtomically(zipPath, zip);
    const bundle: LambdaBundle = { zipPath, sha256: sha256(zip, 'base64'), codeBytes: code.contents.byteLength };
    const outputKey = relative(PROJECT_ROOT, codePath).split(sep).join('/');
    const inputs: Record<string, string> = {};
    for (const file of Object.keys(result.metafile?.outputs[outputKey]?.inputs ?? {}).sort()) {
      inputs[file] = sha256(readFileSync(join(PROJECT_ROOT, file)));
    }
    if (Object.keys(inputs).length === 0) throw new Error(`esbuild reported no inputs for functions/${name}`);
    writeAtomically(
      manifestPath,
      JSON.stringify({
        key: CACHE_KEY,
        inputs,
        sha256: bundle.sha256,
        codeBytes: bundle.codeBytes,
      } satisfies BuildManifest),
    );
    built.set(name, bundle);
  }
  return built;
}

/** Every `<functionsDir>/<name>/handler.ts`, by name. */
function functionNames(functionsDir: string): string[] {
  return readdirSync(functionsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(functionsDir, d.name, 'handler.ts')))
    .map((d) => d.name)
    .sort();
}

/**
 * Bundles `functions/<name>/handler.ts` (minified, Node 22, linked source map) and zips it as
 * `index.js` + `index.js.map`.
 *
 * Memoized per process, and cached across processes in `.build/lambda`: a zip is rebuilt only
 * when the build options, the esbuild version or the content of any file esbuild read for it
 * changed. Either way the bytes are the same, so the cache only saves time. On a miss, every
 * stale function of the folder is built in the same esbuild call: a synth uses them all.
 */
export function bundleFunction(
  name: string,
  functionsDir = join(PROJECT_ROOT, 'functions'),
  outDir = join(PROJECT_ROOT, '.build', 'lambda'),
): LambdaBundle {
  const memoKey = (n: string) => `${n}\0${functionsDir}\0${outDir}`;
  const hit = memo.get(memoKey(name)) ?? cachedBundle(name, outDir);
  if (hit) {
    memo.set(memoKey(name), hit);
    return hit;
  }
  const stale = functionNames(functionsDir).filter(
    (n) => n === name || (!memo.has(memoKey(n)) && cachedBundle(n, outDir) === undefined),
  );
  if (!stale.includes(name)) throw new Error(`no handler at ${join(functionsDir, name, 'handler.ts')}`);
  const built = buildAll(stale, functionsDir, outDir);
  for (const [n, bundle] of built) memo.set(memoKey(n), bundle);
  return built.get(name) as LambdaBundle;
}
