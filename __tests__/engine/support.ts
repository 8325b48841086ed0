// Helpers for the engine tests (not a test file: jest only runs *.test.ts).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

export const REPO = resolve(__dirname, '..', '..');

export interface Engine {
  built: boolean;
  /** why the engine is unusable, when it is */
  reason: string;
  root: string;
  env: Record<string, string>;
}

/** Reads the engine.env that scripts/terraform-engine.sh writes and checks the binaries exist. */
export function engine(): Engine {
  const root = process.env.IOT_DR_ENGINE_DIR ?? join(homedir(), '.cache', 'iot-dr', 'engine');
  const envFile = join(root, 'engine.env');
  if (!existsSync(envFile)) {
    return { built: false, reason: `${envFile} missing: run scripts/terraform-engine.sh`, root, env: {} };
  }
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  const needed = [
    env.IOT_DR_TOFU,
    join(env.IOT_DR_PLUGIN_DIR ?? '', 'registry.opentofu.org/hashicorp/aws', env.IOT_DR_AWS_PROVIDER_VERSION ?? '?'),
    join(
      env.IOT_DR_PLUGIN_DIR ?? '',
      'registry.opentofu.org/hashicorp/random',
      env.IOT_DR_RANDOM_PROVIDER_VERSION ?? '?',
    ),
  ];
  const missing = needed.filter((f) => !f || !existsSync(f));
  if (missing.length) {
    return { built: false, reason: `not built: ${missing.join(', ')} (run scripts/terraform-engine.sh)`, root, env };
  }
  return { built: true, reason: '', root, env };
}

/**
 * `describe` when the engine is built; else `describe.skip` after printing why, or, when
 * IOT_DR_REQUIRE_ENGINE is set (CI), one failing test saying why.
 */
export function describeWithEngine(name: string, fn: () => void): void {
  const e = engine();
  if (e.built) {
    describe(name, fn);
  } else if (process.env.IOT_DR_REQUIRE_ENGINE) {
    describe(name, () => {
      it('needs the Terraform engine (IOT_DR_REQUIRE_ENGINE is set)', () => {
        throw new Error(`Terraform engine not built: ${e.reason}`);
      });
    });
  } else {
    console.log(`SKIP "${name}": Terraform engine not built: ${e.reason}`);
    // biome-ignore lint/suspicious/noSkippedTests: the engine takes an hour to build; without it these tests cannot run (IOT_DR_REQUIRE_ENGINE=1 makes that an error)
    describe.skip(name, fn);
  }
}

export function run(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 15 * 60_000,
): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    cwd: REPO,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Assertion message that carries the script's own output. */
export function explain(r: SpawnSyncReturns<string>): string {
  return `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}
