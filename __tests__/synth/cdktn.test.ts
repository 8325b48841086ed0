/**
 * CDK Terrain as a supported switch (README "Moving to CDK Terrain"): `npm run use:cdktn`
 * rewrites package.json to cdktn + @cdktn/provider-*, `npm install` and then `npm ci` work
 * without legacy-peer-deps, and the app synthesizes the same Terraform on both, but for what the
 * versions explain. The cdktn install is cached in ~/.cache/iot-dr/cdktn/<hash of package.json +
 * package-lock.json> (IOT_DR_CDKTN_CACHE to move it): the first run takes a minute or two.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SOURCES = ['main.ts', 'config', 'stacks', 'functions', 'scripts', 'tsconfig.json', 'cdktf.json'];
const env: NodeJS.ProcessEnv = { ...process.env, CHECKPOINT_DISABLE: '1', npm_config_legacy_peer_deps: 'false' };
for (const k of Object.keys(env)) if (k.startsWith('IOT_DR_') && k !== 'IOT_DR_CDKTN_CACHE') delete env[k];

function npm(args: string[], cwd: string): void {
  const run = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 600_000 });
  if (run.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
}

/** A copy of the project on cdktn (node_modules cached, sources fresh). */
function cdktnProject(): string {
  const pkg = readFileSync(join(ROOT, 'package.json'), 'utf8');
  const lock = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  const key = createHash('sha256').update(pkg).update(lock).digest('hex').slice(0, 16);
  const cache = process.env.IOT_DR_CDKTN_CACHE ?? join(homedir(), '.cache', 'iot-dr', 'cdktn');
  const dir = join(cache, key);
  if (!existsSync(join(dir, '.ok'))) {
    // Installs for other package.json versions, unused for a day, make room (a few hundred MB each).
    for (const old of existsSync(cache) ? readdirSync(cache) : []) {
      const path = join(cache, old);
      if (old !== key && Date.now() - statSync(path).mtimeMs > 86_400_000)
        rmSync(path, { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), pkg);
    writeFileSync(join(dir, 'package-lock.json'), lock);
    // The documented switch (npm install inside), then a clean install from the lock it wrote.
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'use-cdk.mjs'), 'cdktn', '--dir', dir], {
      env,
      stdio: 'pipe',
      timeout: 600_000,
    });
    rmSync(join(dir, 'node_modules'), { recursive: true, force: true });
    npm(['ci', '--no-audit', '--no-fund'], dir);
    writeFileSync(join(dir, '.ok'), new Date().toISOString());
  }
  for (const s of SOURCES) {
    rmSync(join(dir, s), { recursive: true, force: true });
    cpSync(join(ROOT, s), join(dir, s), { recursive: true });
  }
  return dir;
}

/**
 * The widest configuration of scripts/engine-stacks.json ('api': failover DNS, custom domain,
 * alarm topics and both health signals), so that every optional part and both providers (aws and
 * random, which only the API health mode uses) are compared.
 */
const WIDEST_CONFIG = (
  JSON.parse(readFileSync(join(ROOT, 'scripts', 'engine-stacks.json'), 'utf8')) as {
    configurations: Array<{ name: string; config: unknown }>;
  }
).configurations.find((c) => c.name === 'api')!.config;

function synth(project: string): { tf: Record<string, unknown>; manifest: { version: string } } {
  const cwd = mkdtempSync(join(tmpdir(), 'synth-flavour-'));
  execFileSync(process.execPath, [join(project, 'scripts', 'app.mjs')], {
    cwd,
    env: { ...env, IOT_DR_CONFIG_JSON: JSON.stringify(WIDEST_CONFIG) },
    stdio: 'pipe',
  });
  return {
    tf: JSON.parse(readFileSync(join(cwd, 'cdktf.out', 'stacks', 'iot-dr', 'cdk.tf.json'), 'utf8')),
    manifest: JSON.parse(readFileSync(join(cwd, 'cdktf.out', 'manifest.json'), 'utf8')),
  };
}

/** Every JSON path where a and b differ, with both values. */
function differences(a: unknown, b: unknown, path = ''): [string, unknown, unknown][] {
  if (
    typeof a !== typeof b ||
    Array.isArray(a) !== Array.isArray(b) ||
    a === null ||
    b === null ||
    typeof a !== 'object'
  ) {
    return JSON.stringify(a) === JSON.stringify(b) ? [] : [[path, a, b]];
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
  return keys.flatMap((k) => differences(ao[k], bo[k], `${path}.${k}`));
}

describe('CDK Terrain (cdktn) switch', () => {
  let cdktn: string;
  beforeAll(() => {
    cdktn = cdktnProject();
  }, 900_000);

  it('Given `npm run use:cdktn`, Then package.json aliases cdktn, npm ci installs it without peer overrides, and its CLI is `cdktn`', () => {
    const pkg = JSON.parse(readFileSync(join(cdktn, 'package.json'), 'utf8'));
    expect(pkg.dependencies).toMatchObject({
      cdktf: 'npm:cdktn@0.24.0',
      '@cdktf/provider-aws': 'npm:@cdktn/provider-aws@25.7.0',
    });
    expect(JSON.parse(readFileSync(join(cdktn, 'node_modules', 'cdktf', 'package.json'), 'utf8')).name).toBe('cdktn');
    expect(existsSync(join(cdktn, 'node_modules', '.bin', 'cdktn'))).toBe(true);
    // The repository itself stays on cdktf until someone runs the switch.
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies.cdktf).toBe('0.21.0');
  });

  it('Given the same (widest) configuration, When synthesized on cdktf and on cdktn, Then the Terraform differs only in the versions', () => {
    const a = synth(ROOT);
    const b = synth(cdktn);
    expect(a.manifest.version).toBe('0.21.0');
    expect(b.manifest.version).toBe('0.24.0');
    const diff = differences(a.tf, b.tf);
    expect(diff).toEqual([
      // the library that wrote the file
      ['.//.metadata.version', '0.21.0', '0.24.0'],
      // the same registry address, spelled short by cdktf and in full by cdktn
      ['.terraform.required_providers.aws.source', 'aws', 'hashicorp/aws'],
      // @cdktf/provider-aws 21.22.1 = AWS provider 6.25.0; @cdktn/provider-aws 25.7.0 = 6.66.0
      ['.terraform.required_providers.aws.version', '6.25.0', '6.66.0'],
      // @cdktf/provider-random 12.0.1 = random 3.7.2; @cdktn/provider-random 15.0.1 = 3.9.1
      ['.terraform.required_providers.random.version', '3.7.2', '3.9.1'],
    ]);
  });
});
