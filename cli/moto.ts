/**
 * moto server on a loopback port: THE launcher, used by `iot-dr drill` and by the test harness
 * (__tests__/support/moto.ts). Installed on first use by scripts/ensure-moto.sh (a project-local
 * virtualenv), started on a free 127.0.0.1 port (retried when another process takes the port
 * first), waited for (bounded), and killed on stop or when this process exits.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { ExternalError } from './errors';

/** Credentials moto accepts (it checks none); never valid anywhere else. */
export const EMULATOR_CREDENTIALS = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
  sessionToken: 'testing',
} as const;

/**
 * The environment under which the real Lambda handlers run against moto: every SDK client goes
 * to `endpoint` (functions/lib/aws.ts reads IOT_DR_AWS_ENDPOINT) with emulator credentials, and
 * Powertools stays quiet. Each caller adds the function's own variables.
 */
export function emulatedLambdaEnv(endpoint: string): Record<string, string> {
  return {
    IOT_DR_AWS_ENDPOINT: endpoint,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: EMULATOR_CREDENTIALS.sessionToken,
    AWS_EC2_METADATA_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/** A running moto server. */
export interface MotoServer {
  /** `http://127.0.0.1:<port>`: pass it as every SDK client's `endpoint`. */
  readonly endpoint: string;
  /** Drops every resource in every region (moto's `/moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after a bounded wait). Safe to call twice. */
  stop(): Promise<void>;
}

export interface MotoServerOptions {
  /** Path of the moto_server executable (see {@link ensureMoto}). */
  readonly binary: string;
  /** Bounded wait for the server to answer. @default 60000 (2 shared cores can be slow) */
  readonly startTimeoutMs?: number;
  /** Extra environment for the server process (e.g. `MOTO_...` feature flags). */
  readonly env?: Readonly<Record<string, string>>;
}

/** Ports tried before giving up: a port can be taken between {@link freePort} and moto's bind. */
const BIND_ATTEMPTS = 3;
/** Bytes of moto's stderr kept for error messages (moto logs every request). */
const STDERR_TAIL = 4000;
/** Bound of each stop step (SIGTERM, then SIGKILL). */
const STOP_WAIT_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Path of moto_server: `IOT_DR_MOTO_SERVER`, else `<root>/scripts/ensure-moto.sh` (installs it
 * once), bounded by `timeoutMs`.
 */
export function ensureMoto(env: NodeJS.ProcessEnv, root: string, timeoutMs: number): Promise<string> {
  if (env.IOT_DR_MOTO_SERVER) return Promise.resolve(env.IOT_DR_MOTO_SERVER);
  return new Promise((res, rej) => {
    execFile(
      'bash',
      [resolve(root, 'scripts', 'ensure-moto.sh')],
      { encoding: 'utf8', timeout: timeoutMs },
      (err, stdout, stderr) => {
        if (err)
          rej(
            new ExternalError(
              `scripts/ensure-moto.sh could not provide moto server (python3 with venv and pip is needed): ${stderr.trim() || err.message}`,
              { cause: err },
            ),
          );
        else res(stdout.trim());
      },
    );
  });
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
function motoCommand(binary: string): { command: string; args: string[] } {
  const shebang = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(readFileSync(binary, 'utf8').split('\n', 1)[0] ?? '');
  if (shebang && existsSync(shebang[1])) return { command: shebang[1], args: ['-c', LAUNCHER] };
  return { command: binary, args: [] };
}

// Every server this process started: killed when the process exits, even after a crash.
const running = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  running.add(child);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of running) c.kill('SIGKILL');
  });
}

async function startOnce(
  binary: string,
  port: number,
  timeoutMs: number,
  env: Readonly<Record<string, string>>,
): Promise<MotoServer | undefined> {
  const { command, args } = motoCommand(binary);
  const child = spawn(command, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  track(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    // Keep the tail only: moto logs every request.
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
  });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      running.delete(child);
      r();
    }),
  );
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
    if (!(await exitedWithin(STOP_WAIT_MS))) {
      child.kill('SIGKILL');
      await exitedWithin(STOP_WAIT_MS);
    }
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      // Most likely the port was taken between freePort() and bind: the caller retries.
      if (/address already in use/i.test(stderr)) return undefined;
      throw new ExternalError(`moto_server exited before answering on ${endpoint}: ${stderr.trim()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
      if (response.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new ExternalError(`moto_server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await sleep(100);
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();

  return {
    endpoint,
    stop,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, {
        method: 'POST',
        signal: AbortSignal.timeout(10_000),
      });
      if (!response.ok) throw new ExternalError(`moto reset failed: HTTP ${response.status}`);
    },
  };
}

/**
 * Starts moto server on 127.0.0.1 on a free port and waits (bounded) until it answers.
 * @throws ExternalError when it exits early, does not answer in time, or cannot bind a port
 */
export async function startMotoServer(options: MotoServerOptions): Promise<MotoServer> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
    const moto = await startOnce(options.binary, await freePort(), timeoutMs, options.env ?? {});
    if (moto) return moto;
  }
  throw new ExternalError(`moto_server could not bind a free port after ${BIND_ATTEMPTS} attempts`);
}
