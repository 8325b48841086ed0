/**
 * Synth-time bundling of `functions/<name>/handler.ts` into a deterministic Lambda zip.
 *
 * esbuild output is a pure function of its inputs; the zip is made byte-stable by writing its
 * entries in a fixed order with a fixed timestamp and fixed permissions (cdktf's own
 * `TerraformAsset` archives embed file times, so they change on every checkout).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
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

export interface LambdaBundle {
  /** Absolute path of the zip. */
  readonly zipPath: string;
  /** base64 SHA-256 of the zip, as Lambda's `source_code_hash` expects. */
  readonly sha256: string;
  /** Bytes of the bundled handler (without source map). */
  readonly codeBytes: number;
}

const cache = new Map<string, LambdaBundle>();

/**
 * Bundles `functions/<name>/handler.ts` (minified, Node 22, external source map) and zips it as
 * `index.js` + `index.js.map`. Memoized per process: several constructs can share one bundle.
 */
export function bundleFunction(
  name: string,
  functionsDir = join(PROJECT_ROOT, 'functions'),
  outDir = join(PROJECT_ROOT, '.build', 'lambda'),
): LambdaBundle {
  const key = `${name}\0${functionsDir}\0${outDir}`;
  const hit = cache.get(key);
  if (hit) return hit;

  const entry = join(functionsDir, name, 'handler.ts');
  const result = buildSync({
    entryPoints: [entry],
    absWorkingDir: PROJECT_ROOT,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    // Source paths in the map are relative to the output file, never absolute: the map stays
    // identical whichever folder the project was cloned into.
    outfile: join(PROJECT_ROOT, '.build', 'bundle', name, 'index.js'),
    write: false,
    logLevel: 'silent',
    // The AWS SDK's optional CRT bindings are never used by these functions.
    external: ['aws-crt', '@aws-sdk/signature-v4-crt'],
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for functions/${name}: ${result.errors.map((e) => e.text).join('; ')}`);
  }
  const files: Record<string, Uint8Array> = {};
  let codeBytes = 0;
  for (const file of result.outputFiles) {
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
  const zipPath = join(outDir, `${name}.zip`);
  // Parallel test workers may bundle the same function: write aside, then rename atomically.
  const tmp = `${zipPath}.${process.pid}.tmp`;
  writeFileSync(tmp, zip);
  renameSync(tmp, zipPath);

  const bundle: LambdaBundle = {
    zipPath,
    sha256: createHash('sha256').update(zip).digest('base64'),
    codeBytes,
  };
  cache.set(key, bundle);
  return bundle;
}
