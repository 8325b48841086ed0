/**
 * moto server for the drill: installed on first use by scripts/ensure-moto.sh (a project-local
 * virtualenv), started on a free loopback port, killed on stop.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { ExternalError } from '../errors';

export interface DrillMoto {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const REPO = resolve(__dirname, '..', '..');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Path of moto_server: `IOT_DR_MOTO_SERVER`, else scripts/ensure-moto.sh (installs it once). */
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
// PEM text. The flag exists only in moto's in-process config, so moto is started through its own
// Python with the flag set first (as the test harness does).
const LAUNCHER = [
  'import sys',
  'from moto.core.config import default_user_config',
  "default_user_config['iot']['use_valid_cert'] = True",
  'from moto.server import main',
  'sys.exit(main(sys.argv[1:]))',
].join('; ');

function command(binary: string): { command: string; args: string[] } {
  const shebang = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(readFileSync(binary, 'utf8').split('\n', 1)[0] ?? '');
  if (shebang && existsSync(shebang[1])) return { command: shebang[1], args: ['-c', LAUNCHER] };
  return { command: binary, args: [] };
}

/** Starts moto on 127.0.0.1 and waits (bounded) until it answers. */
export async function startMoto(binary: string, timeoutMs: number): Promise<DrillMoto> {
  const port = await freePort();
  const { command: cmd, args } = command(binary);
  const child: ChildProcess = spawn(cmd, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  let exited = false;
  const exit = new Promise<void>((r) =>
    child.once('exit', () => {
      exited = true;
      r();
    }),
  );
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    if (!(await Promise.race([exit.then(() => true), sleep(3000).then(() => false)]))) {
      child.kill('SIGKILL');
      await Promise.race([exit, sleep(3000)]);
    }
  };
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new ExternalError(`moto server exited before answering: ${stderr.trim()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new ExternalError(`moto server did not answer on ${endpoint} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await sleep(100);
  }
  child.stderr?.removeAllListeners('data');
  child.stderr?.resume();
  return { endpoint, stop };
}

export { REPO };
