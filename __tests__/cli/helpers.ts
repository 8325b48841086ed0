// Helpers for the CLI tests (not a test file): in-process runs with captured output, child-process
// runs of the real executable, and the fleet these tests seed in the primary.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from '../../cli/main';
import { FAKE_CREDENTIALS, motoIot, motoIotData } from '../support/moto';
import {
  addToGroup,
  createDevice,
  createGroup,
  createPolicy,
  createThing,
  createThingType,
  updateShadow,
  type Side,
} from '../support/fleet';

export const REPO = resolve(__dirname, '..', '..');
export const PRIMARY = 'us-east-1';
export const SECONDARY = 'us-west-2';

/** Fake credentials in the environment: the replication context uses the default provider chain. */
export function useFakeCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = FAKE_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = FAKE_CREDENTIALS.secretAccessKey;
  process.env.AWS_SESSION_TOKEN = FAKE_CREDENTIALS.sessionToken;
}

export function sides(endpoint: string): { primary: Side; secondary: Side } {
  return {
    primary: { region: PRIMARY, iot: motoIot(endpoint, PRIMARY), data: motoIotData(endpoint, PRIMARY) },
    secondary: { region: SECONDARY, iot: motoIot(endpoint, SECONDARY), data: motoIotData(endpoint, SECONDARY) },
  };
}

/** A scratch working directory (no iot-dr.config.json in it unless a test writes one). */
export function scratchDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'iot-dr-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process (fast) with captured output. */
export async function cli(
  argv: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await run(argv, {
    stdout,
    stderr,
    env: options.env ?? { ...process.env, IOT_DR_CONFIG: '' },
    cwd: options.cwd,
    signal: options.signal,
  });
  return { code, stdout: out, stderr: err };
}

/** Runs the real executable (`bin/iot-dr.js`) as a child process, bounded in time. */
export function cliProcess(
  argv: string[],
  options: {
    cwd: string;
    env?: NodeJS.ProcessEnv;
    timeoutMs?: number;
    /** Sends SIGINT once stderr matches (as Ctrl-C would). */
    interruptWhen?: RegExp;
  },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'iot-dr.js'), ...argv], {
      cwd: options.cwd,
      env: { ...process.env, ...(options.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    let interrupted = false;
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      if (options.interruptWhen && !interrupted && options.interruptWhen.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`iot-dr ${argv.join(' ')} did not finish within ${options.timeoutMs ?? 60_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

/**
 * A small fleet covering every copy rule: a thing type, a group hierarchy with attributes,
 * devices with type, attributes, certificate (one INACTIVE) and policy, memberships, a thing
 * without type, a classic and a named shadow.
 */
export async function seedFleet(
  primary: Side,
  devices = 4,
): Promise<{ certificates: Record<string, { arn: string; id: string }> }> {
  await createThingType(primary, 'sensor', { description: 'temperature sensor', searchableAttributes: ['site'] });
  await createGroup(primary, 'site', { description: 'all sites', attributes: { owner: 'ops' } });
  await createGroup(primary, 'site-a', { parent: 'site', attributes: { city: 'paris' } });
  await createPolicy(primary, 'device-policy');
  const certificates: Record<string, { arn: string; id: string }> = {};
  for (let i = 1; i <= devices; i++) {
    const name = `dev-${i}`;
    certificates[name] = await createDevice(primary, name, {
      type: 'sensor',
      attributes: { site: 'a', serial: String(1000 + i) },
      policy: 'device-policy',
    });
  }
  await primary.iot.send(
    new (await import('@aws-sdk/client-iot')).UpdateCertificateCommand({
      certificateId: certificates[`dev-${devices}`].id,
      newStatus: 'INACTIVE',
    }),
  );
  await addToGroup(primary, 'site-a', 'dev-1');
  if (devices >= 2) await addToGroup(primary, 'site-a', 'dev-2');
  if (devices >= 3) await addToGroup(primary, 'site', 'dev-3');
  await createThing(primary, 'gw-1', { attributes: { role: 'gateway' } });
  await updateShadow(primary, 'dev-1', '', { reported: { temperature: 21 }, desired: { interval: 60 } });
  if (devices >= 2) await updateShadow(primary, 'dev-2', 'config', { desired: { mode: 'eco' } });
  return { certificates };
}

export function parseJson<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`not JSON: ${text.slice(0, 2000)}`, { cause: err });
  }
}
