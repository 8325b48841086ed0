/**
 * Synth-time bundling of `functions/<name>/handler.ts` into a deterministic Lambda zip.
 *
 * esbuild output is a pure function of its inputs; the zip is made byte-stable by writing its
 * entries in a fixed order with a fixed timestamp and fixed permissions (cdktf's own
 * `TerraformAsset` archives embed file times, so they change on every checkout).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

/**
 * Bundles `functions/<name>/handler.ts` (minified, Node 22, linked source map) and zips it as
 * `index.js` + `index.js.map`.
 *
 * Memoized per process, and cached across processes in `.build/lambda`: a zip is rebuilt only
 * when the build options, the esbuild version or the content of any file esbuild read for it
 * changed. Either way the bytes are the same, so the cache only saves time.
 */
export function bundleFunction(
  name: string,
  functionsDir = join(PROJECT_ROOT, 'functions'),
  outDir = join(PROJECT_ROOT, '.build', 'lambda'),
): LambdaBundle {
  const memoKey = `${name}\0${functionsDir}\0${outDir}`;
  const hit = memo.get(memoKey);
  if (hit) return hit;

  const entry = join(functionsDir, name, 'handler.ts');
  const options: BuildOptions = {
    entryPoints: [entry],
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
    // Source paths in the map are relative to the output file, never absolute: the map stays
    // identical whichever folder the project was cloned into.
    outfile: join(PROJECT_ROOT, '.build', 'bundle', name, 'index.js'),
    write: false,
    metafile: true,
    logLevel: 'silent',
    // The AWS SDK's optional CRT bindings are never used by these functions.
    external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
  };
  const zipPath = join(outDir, `${name}.zip`);
  const manifestPath = `${zipPath}.manifest.json`;
  const key = sha256(
    JSON.stringify({ esbuild: esbuildVersion, zip: ZIP_FORMAT, options: { ...options, absWorkingDir: '' } }),
  );

  // IOT_DR_NO_BUNDLE_CACHE=1 forces a fresh build (the determinism test uses it).
  const cached = process.env.IOT_DR_NO_BUNDLE_CACHE === '1' ? undefined : readManifest(manifestPath);
  if (cached && cached.key === key && existsSync(zipPath) && inputsUnchanged(cached)) {
    if (sha256(readFileSync(zipPath), 'base64') === cached.sha256) {
      const bundle = { zipPath, sha256: cached.sha256, codeBytes: cached.codeBytes };
      memo.set(memoKey, bundle);
      return bundle;
    }
  }

  const result = buildSync(options);
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for functions/${name}: ${result.errors.map((e) => e.text).join('; ')}`);
  }
  const files: Record<string, Uint8Array> = {};
  let codeBytes = 0;
  for (const file of result.outputFiles ?? []) {
    const base = file.path.endsWith('.map') ? 'index.js.map' : 'index.js';
    files[base] = file.contents;
    if (base === 'index.js') codeBytes = file.contents.byteLength;
  }
  const entries = Object.keys(files)
    .sort()
    .reduce<Record<string, [Uint8Array, { mtime: Date; attrs: number; os: number }]>>((acc, k) => {
      // attrs: regular file, mode 0644, in the high 16 bits; os 3 = Unix.
      acc[k] = [files[k], { mtime: ZIP_EPOCH, attrs: (0o100644 << 16) >>> 0, os: 3 }];
      return acc;
    }, {});
  const zip = zipSync(entries, { level: 9 });

  mkdirSync(outDir, { recursive: true });
  writeAtomically(zipPath, zip);
  const bundle: LambdaBundle = { zipPath, sha256: sha256(zip, 'base64'), codeBytes };
  const inputs: Record<string, string> = {};
  for (const file of Object.keys(result.metafile?.inputs ?? {}).sort()) {
    inputs[file] = sha256(readFileSync(join(PROJECT_ROOT, file)));
  }
  writeAtomically(
    manifestPath,
    JSON.stringify({ key, inputs, sha256: bundle.sha256, codeBytes } satisfies BuildManifest),
  );
  memo.set(memoKey, bundle);
  return bundle;
}
