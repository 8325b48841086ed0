/**
 * A real MQTT broker for tests: aedes speaking MQTT over WebSocket (`ws`) on 127.0.0.1, over TLS
 * with a self-signed certificate made at test time by `openssl` when asked.
 *
 * aedes is an ES module and jest (CommonJS) cannot load it, so the broker runs in a child Node
 * process (the same binary as the tests) driven over IPC. That is also closer to the truth: the
 * code under test talks to it only through real sockets.
 *
 * Faults it can produce: go down (refuse connections) and come back on the same port, drop the
 * next N messages it would forward, deliver messages late, answer CONNECT late, refuse
 * subscriptions, refuse publishes (by dropping the connection).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** What the broker saw since it started (or since `resetStats`). */
export interface BrokerStats {
  /** TCP connections accepted (before any TLS, WebSocket or MQTT). */
  readonly tcpConnections: number;
  /** MQTT clients that completed CONNECT. */
  readonly mqttConnections: number;
  /** Request URLs (path + query) of the WebSocket upgrades. */
  readonly upgradeUrls: readonly string[];
  /** Client ids of the MQTT clients. */
  readonly clientIds: readonly string[];
  /** PUBLISH packets received from clients (not $SYS). */
  readonly published: number;
  /** Messages dropped or held back on purpose. */
  readonly dropped: number;
  readonly delayed: number;
  /** Clients currently connected. */
  readonly connectedNow: number;
}

/** Fault settings; each applies until changed. */
export interface BrokerFaults {
  /** Drop this many of the next messages the broker would forward to subscribers. */
  readonly dropNext?: number;
  /** Forward messages to subscribers only after this many milliseconds. */
  readonly deliveryDelayMs?: number;
  /** Answer CONNECT (CONNACK) only after this many milliseconds. */
  readonly connackDelayMs?: number;
  /** Refuse every SUBSCRIBE (SUBACK return code 0x80). */
  readonly refuseSubscribe?: boolean;
  /** Refuse every PUBLISH by dropping the connection, as IoT Core does without iot:Publish. */
  readonly refusePublish?: boolean;
}

export interface TestBroker {
  /** `ws://127.0.0.1:<port>` or `wss://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** PEM of the self-signed certificate (TLS only). */
  readonly ca?: string;
  /** File holding `ca` (TLS only). */
  readonly caFile?: string;
  /** Stops listening and drops every connection (the port stays reserved for `up`). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  setFaults(faults: BrokerFaults): Promise<void>;
  stats(): Promise<BrokerStats>;
  resetStats(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartBrokerOptions {
  /** Serve `wss://` with a fresh self-signed certificate. @default false */
  readonly tls?: boolean;
}

/** Whether `openssl` can be run (TLS tests need it to make a certificate). */
export function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

const REPO = resolve(__dirname, '..', '..');

/** The broker process (an ES module, run with `--input-type=module`). */
const BROKER_SCRIPT = `
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';

const opts = JSON.parse(process.env.TEST_BROKER_OPTIONS);
const NO_FAULTS = { dropNext: 0, deliveryDelayMs: 0, connackDelayMs: 0, refuseSubscribe: false, refusePublish: false };
const faults = { ...NO_FAULTS };
let stats;
const resetStats = () => { stats = { tcpConnections: 0, mqttConnections: 0, upgradeUrls: [], clientIds: [], published: 0, dropped: 0, delayed: 0 }; };
resetStats();

const broker = await Aedes.createBroker({
  heartbeatInterval: 3600000,
  preConnect: (client, packet, done) => {
    if (faults.connackDelayMs > 0) setTimeout(() => done(null, true), faults.connackDelayMs);
    else done(null, true);
  },
  authorizeSubscribe: (client, sub, done) => done(null, faults.refuseSubscribe ? null : sub),
  authorizePublish: (client, packet, done) => done(faults.refusePublish ? new Error('publish refused') : null),
  authorizeForward: (client, packet) => {
    if (packet.topic.startsWith('$SYS')) return packet;
    if (faults.dropNext > 0) { faults.dropNext--; stats.dropped++; return null; }
    if (faults.deliveryDelayMs > 0) {
      stats.delayed++;
      const late = { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: false };
      setTimeout(() => { if (!client.closed) { try { client.publish(late, () => {}); } catch {} } }, faults.deliveryDelayMs);
      return null;
    }
    return packet;
  },
});
broker.on('client', (client) => { stats.mqttConnections++; stats.clientIds.push(client.id); });
broker.on('publish', (packet, client) => { if (client) stats.published++; });

const sockets = new Set();
const server = opts.tls
  ? createHttpsServer({ key: readFileSync(opts.keyFile), cert: readFileSync(opts.certFile) })
  : createHttpServer();
server.on('connection', (socket) => {
  stats.tcpConnections++;
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  stats.upgradeUrls.push(req.url);
  const stream = createWebSocketStream(ws);
  stream.on('error', () => {});
  broker.handle(stream, req);
});

let port = 0;
const listen = () => new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => { server.off('error', reject); port = server.address().port; resolve(port); });
});
const close = () => new Promise((resolve) => {
  for (const ws of wss.clients) ws.terminate();
  for (const s of sockets) s.destroy();
  if (server.listening) server.close(() => resolve()); else resolve();
});

process.on('message', async (msg) => {
  try {
    let result = null;
    if (msg.cmd === 'down') await close();
    else if (msg.cmd === 'up') result = await listen();
    else if (msg.cmd === 'faults') Object.assign(faults, NO_FAULTS, msg.faults);
    else if (msg.cmd === 'stats') result = { ...stats, connectedNow: broker.connectedClients };
    else if (msg.cmd === 'reset') resetStats();
    else if (msg.cmd === 'stop') { await close(); await new Promise((r) => broker.close(r)); process.send({ id: msg.id, ok: true }, () => process.exit(0)); return; }
    process.send({ id: msg.id, ok: true, result });
  } catch (err) {
    process.send({ id: msg.id, ok: false, error: String(err && err.stack || err) });
  }
});
await listen();
process.send({ ready: true, port });
`;

/** Starts a broker process and waits (bounded) until it listens. */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  let dir: string | undefined;
  let ca: string | undefined;
  let caFile: string | undefined;
  const brokerOptions: Record<string, unknown> = { tls: !!options.tls };
  if (options.tls) {
    dir = mkdtempSync(join(tmpdir(), 'iot-dr-broker-'));
    const keyFile = join(dir, 'key.pem');
    const certFile = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
      ],
      { stdio: 'ignore', timeout: 15000 },
    );
    ca = readFileSync(certFile, 'utf8');
    caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, ca);
    Object.assign(brokerOptions, { keyFile, certFile });
  }

  const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', BROKER_SCRIPT], {
    cwd: REPO,
    env: { ...process.env, TEST_BROKER_OPTIONS: JSON.stringify(brokerOptions) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });

  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('test broker did not start within 20 s')), 20000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test broker exited with code ${code} before listening`));
    });
    child.on(
      'message',
      (msg: { ready?: boolean; port?: number; id?: number; ok?: boolean; result?: unknown; error?: string }) => {
        if (msg.ready) {
          clearTimeout(timer);
          resolvePort(msg.port as number);
          return;
        }
        const w = msg.id !== undefined ? waiting.get(msg.id) : undefined;
        if (!w) return;
        waiting.delete(msg.id as number);
        if (msg.ok) w.resolve(msg.result);
        else w.reject(new Error(`test broker: ${msg.error}`));
      },
    );
  });
  child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error('test broker exited'));
    waiting.clear();
  });

  const call = <T>(cmd: string, extra: Record<string, unknown> = {}): Promise<T> =>
    new Promise<T>((res, rej) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        rej(new Error(`test broker did not answer ${cmd} within 10 s`));
      }, 10000);
      waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          res(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          rej(e);
        },
      });
      child.send({ id, cmd, ...extra });
    });

  return {
    url: `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    port,
    ca,
    caFile,
    down: () => call('down'),
    up: async () => {
      await call('up');
    },
    setFaults: (faults) => call('faults', { faults }),
    stats: () => call<BrokerStats>('stats'),
    resetStats: () => call('reset'),
    stop: async () => {
      if (child.exitCode === null && child.connected) {
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        await call('stop').catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
        clearTimeout(timer);
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
