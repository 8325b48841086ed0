// Moto server harness shared by every integration test (not a test file: jest only runs *.test.ts).
// One moto process per test file is the intended use: `beforeAll(startMoto)`, `afterAll(stop)`.
// Two regions on the same moto are the primary and the secondary (moto keeps state per region).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/** Fake credentials: moto accepts anything, and real AWS must never be reachable from tests. */
export const FAKE_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
  sessionToken: 'testing',
} as const;

/** A running moto server. */
export interface Moto {
  /** `http://127.0.0.1:<port>`: pass it as every SDK client's `endpoint`. */
  readonly endpoint: string;
  /** Drops every resource in every region (moto's `/moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after a bounded wait). Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** Bounded wait for the server to answer. @default 60000 (2 shared cores can be slow) */
  readonly startTimeoutMs?: number;
  /** Extra environment for the server process (e.g. `MOTO_...` feature flags). */
  readonly env?: Readonly<Record<string, string>>;
}

const REPO = resolve(__dirname, '..', '..');
let cachedBinary: string | undefined;

/** Path of the moto_server executable: `IOT_DR_MOTO_SERVER` (set by `npm test`) or ensure-moto.sh. */
export function motoServerBinary(): string {
  if (process.env.IOT_DR_MOTO_SERVER) return process.env.IOT_DR_MOTO_SERVER;
  if (!cachedBinary) {
    cachedBinary = execFileSync('bash', [resolve(REPO, 'scripts', 'ensure-moto.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 600_000,
    }).trim();
  }
  return cachedBinary;
}

// Certificate ids as AWS computes them (SHA-256 of the DER encoding): moto's default hashes the
// PEM text, which no real client could reproduce. The flag exists only in moto's in-process
// config, so the server is started through its own Python with the flag set first.
const LAUNCHER = [
  'import sys',
  'from moto.core.config import default_user_config',
  "default_user_config['iot']['use_valid_cert'] = True",
  'from moto.server import main',
  'sys.exit(main(sys.argv[1:]))',
].join('; ');

/** How to start moto: the moto_server script's Python with the launcher, or the script itself. */
function motoCommand(): { command: string; args: string[] } {
  const binary = motoServerBinary();
  const shebang = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(readFileSync(binary, 'utf8').split('\n', 1)[0] ?? '');
  if (shebang && existsSync(shebang[1])) return { command: shebang[1], args: ['-c', LAUNCHER] };
  return { command: binary, args: [] };
}

/** A port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => res(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// Every server this process started: killed when the jest worker exits, even after a crash.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startOnce(port: number, timeoutMs: number, env: Readonly<Record<string, string>>): Promise<Moto | undefined> {
  const { command, args } = motoCommand();
  const child = spawn(command, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  running.add(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep the tail only: moto logs every request.
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => { exited = true; running.delete(child); r(); }));
  const endpoint = `http://127.0.0.1:${port}`;

  // Resolves true when the process exited within `ms`; the timer never outlives the wait.
  const exitedWithin = (ms: number) =>
    new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), ms);
      void exit.then(() => {
        clearTimeout(timer);
        res(true);
      });
    });
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    if (!(await exitedWithin(5000))) {
      child.kill('SIGKILL');
      await exitedWithin(5000);
    }
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      // Most likely the port was taken between freePort() and bind: the caller retries.
      if (/address already in use/i.test(stderr)) return undefined;
      throw new Error(`moto_server exited before answering on ${endpoint}: ${stderr.trim()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await sleep(100);
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();


  return {
    endpoint,
    stop,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
    },
  };
}

/**
 * Starts moto server on 127.0.0.1 on a free port and waits (bounded) until it answers.
 * @example
 *   let moto: Moto;
 *   beforeAll(async () => { moto = await startMoto(); });
 *   afterAll(() => moto?.stop());
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<Moto> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const moto = await startOnce(await freePort(), timeoutMs, options.env ?? {});
    if (moto) return moto;
  }
  throw new Error('moto_server could not bind a free port after 3 attempts');
}

/** SDK client configuration for `region` on moto: endpoint, fake credentials, few retries. */
export function motoClientConfig(endpoint: string, region: string) {
  return { endpoint, region, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 2 };
}

/** An IoT control-plane client for `region` on moto. */
export function motoIot(endpoint: string, region: string): IoTClient {
  return new IoTClient(motoClientConfig(endpoint, region));
}

/** An IoT data-plane (shadow) client for `region` on moto. */
export function motoIotData(endpoint: string, region: string): IoTDataPlaneClient {
  return new IoTDataPlaneClient(motoClientConfig(endpoint, region));
}

/** Any SDK v3 client for `region` on moto, e.g. `motoClient(DynamoDBClient, moto.endpoint, 'us-west-2')`. */
export function motoClient<C>(Client: new (config: ReturnType<typeof motoClientConfig>) => C, endpoint: string, region: string): C {
  return new Client(motoClientConfig(endpoint, region));
}
