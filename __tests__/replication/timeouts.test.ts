// Every AWS call of the workers is bounded: a request that never answers fails with TimeoutError
// (throwOnRequestTimeout: @smithy/node-http-handler 4.x only logs a warning without it), is retried
// by the SDK a bounded number of times, and surfaces as RetryableError for the workflow to retry.
// The "AWS" here is a loopback server that never answers, or the fault proxy in front of moto.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { callBoundMs, CLIENT_DEFAULTS, clientConfig } from '../../functions/lib/aws';
import { applyEvent, createContext } from '../../functions/lib/replication';
import { WORKER_CALL_BOUND_MS, WORKER_CLIENT_LIMITS } from '../../functions/lib/replication/worker';
import { parseConfig } from '../../config/load';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { FAKE_CREDENTIALS, startMoto, type Moto } from '../support/moto';
import { createThing, PRIMARY, silentLogger, thingEvent, twoRegions } from '../support/fleet';

describe('SDK call bounds', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;

  beforeAll(async () => {
    server = createServer(() => {
      requests++; // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('Given a service that never answers, When a client from clientConfig calls it, Then each attempt ends with TimeoutError and the call fails after maxAttempts', async () => {
    const iot = new IoTClient({
      ...clientConfig({
        region: 'us-east-1',
        endpoint,
        maxAttempts: 2,
        requestTimeoutMs: 200,
        connectionTimeoutMs: 200,
      }),
      credentials: { ...FAKE_CREDENTIALS },
    });
    requests = 0;
    await expect(iot.send(new DescribeThingCommand({ thingName: 't' }))).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(requests).toBe(2);
    iot.destroy();
  }, 30_000);

  it('bounds every worker call well inside the default worker deadline', () => {
    expect(WORKER_CLIENT_LIMITS).toEqual({ maxAttempts: 3, requestTimeoutMs: 2000, connectionTimeoutMs: 1000 });
    // 3 attempts x (1 s + 2 s) + SDK backoff (100 + 200 ms)
    expect(WORKER_CALL_BOUND_MS).toBe(9300);
    expect(WORKER_CALL_BOUND_MS).toBeLessThan(parseConfig({}).replication.workerTimeoutSeconds * 1000 * 0.5);
    expect(callBoundMs()).toBe(CLIENT_DEFAULTS.maxAttempts * 13_000 + 700);
    expect(clientConfig({ region: 'us-east-1' }).requestHandler).toEqual({
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      throwOnRequestTimeout: true,
    });
  });
});

describe('A worker behind a hanging network', () => {
  let moto: Moto;
  let proxy: FaultProxy;

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startFaultProxy({ target: moto.endpoint, rates: {}, hangMs: 5_000 });
  });
  afterAll(async () => {
    await proxy?.stop();
    await moto?.stop();
  });

  it('Given every request hangs, When an event is applied, Then it fails as RetryableError (TimeoutError) after the bounded attempts, not at the worker deadline', async () => {
    const { primary } = twoRegions(moto.endpoint);
    await createThing(primary, 'hung');
    const ctx = createContext({
      originRegion: 'us-east-1',
      targetRegion: 'us-west-2',
      mode: 'thing-only',
      endpoint: proxy.endpoint,
      credentials: { ...FAKE_CREDENTIALS },
      logger: silentLogger(),
      ...WORKER_CLIENT_LIMITS,
      requestTimeoutMs: 300, // the workers' shape, shorter so the test is quick
    });
    proxy.setRates({ hang: 1 });
    const before = proxy.counts.hang;
    const error = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 'hung' }), 'e-hang').catch((e) => e);
    expect(error).toMatchObject({ name: 'RetryableError' });
    expect(String(error.message)).toContain('TimeoutError');
    expect(proxy.counts.hang - before).toBe(WORKER_CLIENT_LIMITS.maxAttempts);

    // The network recovers: the same event converges.
    proxy.setRates({});
    const outcomes = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 'hung' }), 'e-hang');
    expect(outcomes).toEqual([{ kind: 'thing', name: 'hung', action: 'created' }]);
  }, 60_000);
});
