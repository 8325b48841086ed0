// A fault-injecting HTTP proxy on loopback, between the replication workers and moto (not a test
// file). Each request is forwarded unchanged, or, with the configured probabilities, answered with
// a fault AWS produces: throttling (429 ThrottlingException), 500 InternalFailureException, 503
// ServiceUnavailableException, a connection reset, or a hang (no answer until the client gives up:
// the SDK's request timeout must end it). Used by `npm run bench:cost -- --faults` and tests.
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault = 'throttle' | 'internal' | 'unavailable' | 'reset' | 'hang';

export interface FaultProxyOptions {
  /** moto's endpoint. */
  readonly target: string;
  /** Probability of each fault per request (their sum is the fault rate). */
  readonly rates: Partial<Record<Fault, number>>;
  /** Deterministic randomness (tests). @default Math.random */
  readonly random?: () => number;
  /** A hung request is closed after this many milliseconds if the client has not. @default 30000 */
  readonly hangMs?: number;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests seen, and faults injected by kind. */
  readonly counts: { requests: number; forwarded: number } & Record<Fault, number>;
  /** Changes the fault rates (e.g. 0 for a clean verification pass). */
  setRates(rates: Partial<Record<Fault, number>>): void;
  stop(): Promise<void>;
}

const FAULTS: readonly Fault[] = ['throttle', 'internal', 'unavailable', 'reset', 'hang'];

function awsError(res: ServerResponse, status: number, type: string): void {
  // restJson services (IoT, IoT data plane) read the error code from x-amzn-ErrorType.
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
  res.end(JSON.stringify({ message: `injected ${type}` }));
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const random = options.random ?? Math.random;
  const hangMs = options.hangMs ?? 30_000;
  let rates = { ...options.rates };
  const counts = { requests: 0, forwarded: 0, throttle: 0, internal: 0, unavailable: 0, reset: 0, hang: 0 };
  const timers = new Set<NodeJS.Timeout>();

  const pick = (): Fault | undefined => {
    let r = random();
    for (const f of FAULTS) {
      const p = rates[f] ?? 0;
      if (r < p) return f;
      r -= p;
    }
    return undefined;
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    counts.requests++;
    const fault = pick();
    if (fault) counts[fault]++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      switch (fault) {
        case 'throttle':
          return awsError(res, 429, 'ThrottlingException');
        case 'internal':
          return awsError(res, 500, 'InternalFailureException');
        case 'unavailable':
          return awsError(res, 503, 'ServiceUnavailableException');
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang': {
          const timer = setTimeout(() => {
            timers.delete(timer);
            req.socket.destroy();
          }, hangMs);
          timers.add(timer);
          return;
        }
      }
      counts.forwarded++;
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => req.socket.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    setRates(next) {
      rates = { ...next };
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
