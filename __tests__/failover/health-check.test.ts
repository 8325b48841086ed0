/**
 * The health-check function end to end, in one module instance (a warm container): guard against
 * a secret in SSM (moto), then a real MQTT round trip over real sockets to aedes over WSS.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { opensslAvailable, startBroker, type TestBroker } from '../support/broker';
import { FAKE_CREDENTIALS, motoClient, startMoto, type Moto } from '../support/moto';

type Handler = (event: {
  queryStringParameters?: Record<string, string>;
}) => Promise<APIGatewayProxyStructuredResultV2>;

const REGION = 'us-east-1';
const HOST = 'abcdefgh12345-ats.iot.us-east-1.amazonaws.com';
const PARAMETER = '/iot-dr/health-check/secret';
const SECRET = 'S3cretValueFromTerraform0123456789abcdef';
/**
 * Roomy on purpose: a healthy round trip over loopback WSS takes tens of ms, but a loaded 2-core
 * machine once took longer than the former 800 ms (issue 9, item 6). Tests assert verdicts; the
 * few time bounds they check are the deadline plus a wide margin.
 */
const DEADLINE_MS = 2500;
const MESSAGES = 3;
/** Time allowed after the deadline for tearing down the socket and answering, on 2 busy cores. */
const MARGIN_MS = 1500;

let moto: Moto;
let broker: TestBroker;
let ssm: SSMClient;
let handler: Handler;
let logSpy: jest.SpyInstance;
const savedEnv = { ...process.env };

/** Loads the handler module with the given environment (a cold start). */
function coldStart(env: Record<string, string>): Handler {
  Object.assign(process.env, env);
  let loaded: Handler | undefined;
  jest.isolateModules(() => {
    loaded = (require('../../functions/health-check/handler') as { handler: Handler }).handler;
  });
  return loaded as Handler;
}

function envFor(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'session/token+with=chars',
    IOT_DR_AWS_ENDPOINT: moto.endpoint,
    IOT_DR_HEALTH_ENDPOINT: HOST,
    IOT_DR_HEALTH_ENDPOINT_URL: broker.url,
    ...(broker.caFile ? { IOT_DR_HEALTH_CA_FILE: broker.caFile } : {}),
    IOT_DR_HEALTH_SECRET_PARAMETER: PARAMETER,
    IOT_DR_NAME_PREFIX: 'iot-dr',
    IOT_DR_HEALTH_MESSAGE_COUNT: String(MESSAGES),
    IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(DEADLINE_MS),
    ...overrides,
  };
}

async function invoke(key?: string): Promise<{ status: number; body: Record<string, any>; ms: number }> {
  const started = Date.now();
  const res = await handler(key === undefined ? {} : { queryStringParameters: { key } });
  return { status: res.statusCode as number, body: JSON.parse(res.body as string), ms: Date.now() - started };
}

/** Waits (bounded) until the broker has no client left: every invocation must disconnect. */
async function expectAllDisconnected(): Promise<void> {
  const until = Date.now() + 3000;
  let connected = -1;
  while (Date.now() < until) {
    connected = (await broker.stats()).connectedNow;
    if (connected === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(connected).toBe(0);
}

beforeAll(async () => {
  // The function logs one JSON line per invocation; kept to check that no line holds the secret.
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  [moto, broker] = await Promise.all([startMoto(), startBroker({ tls: opensslAvailable() })]);
  ssm = motoClient(SSMClient, moto.endpoint, REGION);
  await ssm.send(new PutParameterCommand({ Name: PARAMETER, Type: 'SecureString', Value: SECRET }));
  handler = coldStart(envFor());
}, 120000);

afterAll(async () => {
  process.env = savedEnv;
  logSpy?.mockRestore();
  await Promise.all([broker?.stop(), moto?.stop()]);
});

beforeEach(async () => {
  await broker.setFaults({});
  await broker.resetStats();
});

describe('Function: health-check', () => {
  it('answers 200 with timings after all N messages came back, then disconnects', async () => {
    // Given a healthy broker (over TLS when openssl is installed)
    expect(broker.url).toMatch(opensslAvailable() ? /^wss:\/\/127\.0\.0\.1:/ : /^ws:\/\//);
    // When Route 53 calls with the right secret
    const res = await invoke(SECRET);

    // Then
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'healthy', region: REGION });
    for (const k of ['connectMs', 'subscribeMs', 'publishMs', 'receiveMs', 'totalMs']) {
      expect(res.body.timings[k]).toEqual(expect.any(Number));
    }
    const stats = await broker.stats();
    expect(stats.mqttConnections).toBe(1);
    expect(stats.published).toBe(MESSAGES);
    expect(stats.clientIds[0]).toMatch(/^iot-dr-hc-[0-9a-f-]{36}$/);
    await expectAllDisconnected();
  });

  it('connects with a SigV4-presigned /mqtt URL whose session token is appended after the signature', async () => {
    await invoke(SECRET);

    const [upgrade] = (await broker.stats()).upgradeUrls;
    const url = new URL(upgrade, 'wss://placeholder');
    expect(url.pathname).toBe('/mqtt');
    const keys = [...url.searchParams.keys()];
    expect(keys.at(-1)).toBe('X-Amz-Security-Token');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('session/token+with=chars');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^testing\/\d{8}\/us-east-1\/iotdevicegateway\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['wrong', 'not-the-secret'],
    ['wrong but of the same length', SECRET.replace(/.$/, 'X')],
  ])('answers 403 to a %s secret and opens no connection at all', async (_name, key) => {
    const res = await invoke(key);

    expect(res.status).toBe(403);
    expect(res.body).toEqual({ status: 'forbidden' });
    expect(JSON.stringify(res.body)).not.toContain(SECRET);
    const stats = await broker.stats();
    expect(stats.tcpConnections).toBe(0);
    expect(stats.mqttConnections).toBe(0);
  });

  it('answers 503 naming the connect phase when the broker is down, without waiting for the deadline', async () => {
    await broker.down();
    try {
      const res = await invoke(SECRET);

      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ status: 'unhealthy', phase: 'connect' });
      expect(res.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    } finally {
      await broker.up();
    }
  });

  it('answers 503 naming the connect phase when CONNACK comes after the deadline', async () => {
    await broker.setFaults({ connackDelayMs: DEADLINE_MS + 1500 });

    const res = await invoke(SECRET);

    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unhealthy', phase: 'connect' });
    expect(res.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    expect(res.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  });

  it('answers 503 naming the receive phase when the broker drops one of the N messages', async () => {
    await broker.setFaults({ dropNext: 1 });

    const res = await invoke(SECRET);

    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unhealthy', phase: 'receive' });
    expect(res.body.error).toMatch(/deadline/);
    expect(res.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    const stats = await broker.stats();
    expect(stats.dropped).toBe(1);
    expect(stats.published).toBe(MESSAGES);
    await expectAllDisconnected();
  });

  it('answers 503 within the deadline (plus teardown) when the broker delivers later than the deadline', async () => {
    await broker.setFaults({ deliveryDelayMs: DEADLINE_MS + 1000 });

    const res = await invoke(SECRET);

    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'unhealthy', phase: 'receive' });
    expect(res.ms).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    expect(res.ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    await expectAllDisconnected();
  });

  it('judges each warm invocation on its own: failure after success, success after failure', async () => {
    // Given the same module instance (warm container) that just succeeded
    const first = await invoke(SECRET);
    expect(first.status).toBe(200);

    // When one message is lost, the next invocation fails: nothing counted before helps it
    await broker.setFaults({ dropNext: 1 });
    const second = await invoke(SECRET);
    expect(second.status).toBe(503);
    expect(second.body.phase).toBe('receive');

    // And after a failure, a healthy broker gives 200 again: nothing counted before hurts it
    await broker.setFaults({});
    const third = await invoke(SECRET);
    expect(third.status).toBe(200);

    // And after the broker went down and came back
    await broker.down();
    const fourth = await invoke(SECRET);
    await broker.up();
    const fifth = await invoke(SECRET);
    expect([fourth.status, fourth.body.phase]).toEqual([503, 'connect']);
    expect(fifth.status).toBe(200);

    // Every invocation used its own client id
    const ids = (await broker.stats()).clientIds;
    expect(new Set(ids).size).toBe(ids.length);
    await expectAllDisconnected();
  });

  it('reads the secret from SSM once per cold start', async () => {
    // Given a warm module that already read the secret, and the parameter gone from SSM
    await invoke(SECRET);
    await ssm.send(new DeleteParameterCommand({ Name: PARAMETER }));
    try {
      // Then the warm module still knows it
      expect((await invoke(SECRET)).status).toBe(200);
    } finally {
      await ssm.send(
        new PutParameterCommand({ Name: PARAMETER, Type: 'SecureString', Value: SECRET, Overwrite: true }),
      );
    }
  });

  it('answers 500 and opens no connection when the secret cannot be read', async () => {
    // Given a cold start whose parameter does not exist
    const broken = coldStart(envFor({ IOT_DR_HEALTH_SECRET_PARAMETER: '/iot-dr/health-check/missing' }));

    const res = await broken({ queryStringParameters: { key: SECRET } });

    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body as string)).toEqual({ status: 'error', error: 'secret unavailable' });
    expect((await broker.stats()).tcpConnections).toBe(0);
  });

  it('threat: an SSM endpoint that accepts TCP and never answers -> a cold start answers 500 within the deadline', async () => {
    // Given an "SSM" that accepts connections and never says a word
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    try {
      const hung = coldStart(envFor({ IOT_DR_AWS_ENDPOINT: `http://127.0.0.1:${port}` }));

      // When Route 53 calls
      const started = Date.now();
      const res = await hung({ queryStringParameters: { key: SECRET } });

      // Then the answer is a 500 (Route 53 counts a failure), it came (the former code never answered),
      // within the deadline plus margin, and no MQTT connection was opened
      expect(res.statusCode).toBe(500);
      expect(Date.now() - started).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect((await broker.stats()).tcpConnections).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('threat: SSM failing after the secret was cached, plus a wrong key -> the correct key still gets 200', async () => {
    // Given a container that cached the secret, then SSM losing the parameter (every read fails)
    const warm = coldStart(envFor());
    expect((await warm({ queryStringParameters: { key: SECRET } })).statusCode).toBe(200);
    await ssm.send(new DeleteParameterCommand({ Name: PARAMETER }));
    const realNow = Date.now.bind(Date);
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + 60_000);
    try {
      // When a wrong key arrives after the refresh interval (it triggers a re-read, which fails)
      expect((await warm({ queryStringParameters: { key: 'wrong' } })).statusCode).toBe(403);

      // Then the correct key is still accepted from the kept value
      expect((await warm({ queryStringParameters: { key: SECRET } })).statusCode).toBe(200);
    } finally {
      clock.mockRestore();
      await ssm.send(
        new PutParameterCommand({ Name: PARAMETER, Type: 'SecureString', Value: SECRET, Overwrite: true }),
      );
    }
  });

  it('threat: rotation -> the new key is accepted at once, the previous one during the overlap window only', async () => {
    // Given a warm container that read the current secret, and a rotation (new parameter version)
    const rotated = 'RotatedSecretFromTerraform9876543210zyxw';
    const name = '/iot-dr/health-check/rotation';
    await ssm.send(new PutParameterCommand({ Name: name, Type: 'SecureString', Value: SECRET }));
    const warm = coldStart(
      envFor({ IOT_DR_HEALTH_SECRET_PARAMETER: name, IOT_DR_HEALTH_SECRET_OVERLAP_SECONDS: '600' }),
    );
    expect((await warm({ queryStringParameters: { key: SECRET } })).statusCode).toBe(200);
    await ssm.send(new PutParameterCommand({ Name: name, Type: 'SecureString', Value: rotated, Overwrite: true }));
    const realNow = Date.now.bind(Date);
    let offset = 10_000; // past the re-read rate limit, well inside the overlap window
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
    try {
      // When Route 53 starts sending the new key, Then it is accepted on its first request
      expect((await warm({ queryStringParameters: { key: rotated } })).statusCode).toBe(200);
      // And checkers still sending the previous key keep passing during the overlap window
      expect((await warm({ queryStringParameters: { key: SECRET } })).statusCode).toBe(200);
      // And once the window (600 s after the new version was written) is over, the old key is refused
      offset = 601_000;
      expect((await warm({ queryStringParameters: { key: SECRET } })).statusCode).toBe(403);
      expect((await warm({ queryStringParameters: { key: rotated } })).statusCode).toBe(200);
    } finally {
      clock.mockRestore();
      await ssm.send(new DeleteParameterCommand({ Name: name }));
    }
  });

  it('never writes the secret into a log line', () => {
    const lines = logSpy.mock.calls.map((args) => args.join(' '));
    expect(lines.length).toBeGreaterThan(10);
    expect(lines.filter((l) => l.includes(SECRET))).toEqual([]);
  });

  it('fails the cold start loudly when a required variable is missing', () => {
    expect(() => coldStart(envFor({ IOT_DR_HEALTH_DEADLINE_MILLISECONDS: 'soon' }))).toThrow(
      /IOT_DR_HEALTH_DEADLINE_MILLISECONDS must be a whole number between 100 and 30000 \(got "soon"\)/,
    );
  });
});
