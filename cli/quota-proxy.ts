/**
 * A quota-enforcing emulator: an HTTP proxy in front of moto server that enforces AWS IoT's
 * per-account API quotas, so tests and benches can show a bulk copy running at the quota ceiling
 * without throttling failures (moto itself enforces no quota).
 *
 * Each request is mapped to its IoT operation by the SDK's own HTTP bindings (method + URI
 * template of every operation of `@aws-sdk/client-iot`), its region is read from the SigV4
 * credential scope, and one token bucket per (region, operation) admits it: capacity one second of
 * the operation's TPS, refilled continuously at that TPS (the documented default quota, table
 * `IOT_API_QUOTAS_TPS` of `./rate-limits`; {@link DEFAULT_QUOTA_TPS} for operations whose quota is
 * not in it). A request over the quota is answered as AWS IoT does: `x-amzn-ErrorType:
 * ThrottlingException` and `{"message":"Rate exceeded"}`, with HTTP 400 from the control plane and
 * HTTP 429 from the device shadow data plane (each operation's API reference lists its
 * ThrottlingException with that status), which the SDK's retry strategies recognize as throttling.
 * https://docs.aws.amazon.com/general/latest/gr/iot-core.html#limits_iot
 * https://docs.aws.amazon.com/iot/latest/apireference/CommonErrors.html
 * https://docs.aws.amazon.com/iot/latest/apireference/API_iotdata_GetThingShadow.html
 *
 * The IoT control plane (SigV4 service `iot`) and the device shadow data plane (`iotdata`) are
 * limited, each operation at the same table the CLI's client-side limiter uses, so what the proxy
 * enforces is what the CLI promises to stay under. Every other service passes through.
 *
 * The proxy also answers the IoT operations moto lacks (ListCACertificates, the provisioning
 * template API) from OUR EMULATION of the documented API, `./iot-emulation` (option `emulate`).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as iotModule from '@aws-sdk/client-iot';
import * as iotDataModule from '@aws-sdk/client-iot-data-plane';
import { EMULATED_OPERATIONS, IotEmulator, writeAnswer } from './iot-emulation';
import { DEFAULT_QUOTA_TPS, IOT_API_QUOTAS_TPS, TokenBucket } from './rate-limits';

export { TokenBucket };

/** One operation's HTTP binding, compiled. */
interface Route {
  readonly operation: string;
  readonly method: string;
  readonly path: RegExp;
  /** Literal path segments: the more, the more specific the route. */
  readonly literals: number;
  /** Query keys the URI template requires (`/x?y`). */
  readonly query: readonly string[];
}

/**
 * The HTTP routes of every operation of an SDK client package: its exported operation schemas
 * (`[9, namespace, name, { http: [method, uri, code] }, ...]`).
 */
export function operationRoutes(module: Record<string, unknown>): Route[] {
  const routes: Route[] = [];
  for (const [key, value] of Object.entries(module)) {
    if (!key.endsWith('$') || !Array.isArray(value) || value[0] !== 9) continue;
    const http = (value[3] as { http?: [string, string, number] } | undefined)?.http;
    if (!http) continue;
    const [method, uri] = http;
    const [pathPart, queryPart] = uri.split('?');
    const segments = pathPart.split('/').filter(Boolean);
    const pattern = segments
      .map((s) => (/^\{.+\+\}$/.test(s) ? '.+' : /^\{.+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    routes.push({
      operation: String(value[2]),
      method,
      path: new RegExp(`^/${pattern}/?$`),
      literals: segments.filter((s) => !s.startsWith('{')).length,
      query: queryPart ? queryPart.split('&').map((q) => q.split('=')[0]).filter(Boolean) : [],
    });
  }
  return routes.sort((a, b) => b.literals - a.literals || b.query.length - a.query.length);
}

const routesOf: Record<string, Route[] | undefined> = {};
const modules: Record<string, unknown> = { iot: iotModule, iotdata: iotDataModule };

/** The operation a request to SigV4 service `iot` (or `iotdata`) calls (`undefined` when none matches). */
export function iotOperation(method: string, url: string, service: 'iot' | 'iotdata' = 'iot'): string | undefined {
  routesOf[service] ??= operationRoutes(modules[service] as Record<string, unknown>);
  const parsed = new URL(url, 'http://localhost');
  return (routesOf[service] ?? []).find(
    (r) => r.method === method && r.path.test(parsed.pathname) && r.query.every((q) => parsed.searchParams.has(q)),
  )?.operation;
}

/** Every IoT control-plane and data-plane operation name (from the SDK's HTTP bindings). */
export function iotOperations(): string[] {
  return (['iot', 'iotdata'] as const).flatMap((service) => {
    routesOf[service] ??= operationRoutes(modules[service] as Record<string, unknown>);
    return (routesOf[service] ?? []).map((r) => r.operation);
  });
}

/** Region and service of a SigV4-signed request (`Credential=AKID/date/region/service/aws4_request`). */
export function signingScope(authorization: string | undefined): { region: string; service: string } | undefined {
  const m = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return m ? { region: m[1], service: m[2] } : undefined;
}

export interface QuotaProxyOptions {
  /** moto's endpoint, `http://127.0.0.1:PORT`. */
  readonly upstream: string;
  /** Quotas that differ from the documented defaults (Operation → TPS). */
  readonly quotas?: Readonly<Record<string, number>>;
  /** Clock in ms (tests inject one). @default Date.now */
  readonly now?: () => number;
  /** Enforce the quotas (false: only the emulation of what moto lacks). @default true */
  readonly enforceQuotas?: boolean;
  /** Answer the IoT operations moto lacks from `./iot-emulation`. @default true */
  readonly emulate?: boolean;
}

/** Requests per operation: admitted and throttled. */
export interface OperationStats {
  admitted: number;
  throttled: number;
}

export interface QuotaProxy {
  /** `http://127.0.0.1:<port>`: give it to the SDK clients instead of moto's endpoint. */
  readonly endpoint: string;
  /** By `region:Operation`. */
  readonly stats: Map<string, OperationStats>;
  /** The TPS the proxy enforces for an operation. */
  quota(operation: string): number;
  /** Forgets the emulated state (also done when moto's `/moto-api/reset` passes through). */
  reset(): void;
  stop(): Promise<void>;
}

/** Starts the proxy on a free loopback port. */
export async function startQuotaProxy(options: QuotaProxyOptions): Promise<QuotaProxy> {
  const upstream = new URL(options.upstream);
  const now = options.now ?? Date.now;
  const quota = (operation: string) => options.quotas?.[operation] ?? IOT_API_QUOTAS_TPS[operation] ?? DEFAULT_QUOTA_TPS;
  const buckets = new Map<string, TokenBucket>();
  const stats = new Map<string, OperationStats>();
  const enforce = options.enforceQuotas ?? true;
  const emulator = options.emulate === false ? undefined : new IotEmulator(now);

  const upstreamGet = (path: string, headers: IncomingMessage['headers'], method = 'GET', body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const { 'content-length': _l, 'transfer-encoding': _t, ...rest } = headers;
      const sent = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)), 'content-type': 'application/json' };
      const out = request({ hostname: upstream.hostname, port: upstream.port, method, path, headers: { ...rest, ...sent, host: upstream.host } }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8') }));
        answer.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  /** Forwards to moto; `observe` sees the whole answer (it is buffered then). */
  const forward = (req: IncomingMessage, res: ServerResponse, observe?: (status: number, body: string) => void) => {
    const headers = { ...req.headers, host: upstream.host };
    const out = request(
      { hostname: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (!observe) {
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          try {
            observe(answer.statusCode ?? 502, body.toString('utf8'));
          } finally {
            res.end(body);
          }
        });
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `quota proxy: upstream failed: ${err.message}` }));
    });
    req.pipe(out);
  };

  /** Admitted requests: the emulated operations answered here, the rest forwarded to moto. */
  const serve = (req: IncomingMessage, res: ServerResponse, region: string, operation: string) => {
    if (!emulator) {
      forward(req, res);
      return;
    }
    if (EMULATED_OPERATIONS.has(operation)) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      readBody(req)
        .then((body) => emulator.handle(operation, region, url, body, { get: upstreamGet, headers: req.headers }))
        .then((answer) => writeAnswer(res, answer))
        .catch((err: unknown) => writeAnswer(res, { status: 500, errorType: 'InternalFailureException', body: { message: String(err) } }));
      return;
    }
    if (operation === 'RegisterCACertificate') {
      forward(req, res, (status, body) => {
        const id = status === 200 ? (JSON.parse(body) as { certificateId?: string }).certificateId : undefined;
        if (id) emulator.caRegistered(region, id);
      });
      return;
    }
    if (operation === 'DeleteCACertificate') {
      const id = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname.split('/').filter(Boolean)[1] ?? '');
      forward(req, res, (status) => {
        if (status === 200) emulator.caDeleted(region, id);
      });
      return;
    }
    forward(req, res);
  };

  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/moto-api/reset')) emulator?.reset();
    const scope = signingScope(req.headers.authorization);
    const service = scope?.service;
    const operation =
      service === 'iot' || service === 'iotdata' ? iotOperation(req.method ?? 'GET', req.url ?? '/', service) : undefined;
    if (!scope || !operation) {
      forward(req, res);
      return;
    }
    if (!enforce) {
      serve(req, res, scope.region, operation);
      return;
    }
    const key = `${scope.region}:${operation}`;
    let bucket = buckets.get(key);
    if (!bucket) {
      const tps = quota(operation);
      bucket = new TokenBucket(tps, tps, now());
      buckets.set(key, bucket);
    }
    let counts = stats.get(key);
    if (!counts) {
      counts = { admitted: 0, throttled: 0 };
      stats.set(key, counts);
    }
    if (bucket.take(now())) {
      counts.admitted++;
      serve(req, res, scope.region, operation);
      return;
    }
    counts.throttled++;
    req.resume();
    res.writeHead(service === 'iotdata' ? 429 : 400, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ThrottlingException' });
    res.end(JSON.stringify({ message: 'Rate exceeded' }));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stats,
    quota,
    reset: () => emulator?.reset(),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
