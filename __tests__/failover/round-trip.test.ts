/**
 * The round trip and the request handler as library functions, over plain WebSocket (the TLS path
 * is covered by health-check.test.ts): the subscribe and publish phases, and the deadline covering
 * the whole invocation.
 */
import { createHealthCheck } from '../../functions/lib/health/check';
import { mqttRoundTrip, RoundTripError } from '../../functions/lib/health/round-trip';
import { startBroker, type TestBroker } from '../support/broker';

let broker: TestBroker;
const DEADLINE_MS = 700;
/** Slack after the deadline for teardown on a loaded 2-core machine. */
const MARGIN_MS = 1500;

const options = (overrides: Partial<Parameters<typeof mqttRoundTrip>[0]> = {}) => {
  const id = `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  return {
    url: `${broker.url}/mqtt`,
    clientId: `iot-dr-hc-${id}`,
    topic: `iot-dr/health/${id}`,
    messageCount: 2,
    deadlineMs: DEADLINE_MS,
    ...overrides,
  };
};

async function failure(promise: Promise<unknown>): Promise<RoundTripError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof RoundTripError) return err;
    throw err;
  }
  throw new Error('the round trip succeeded');
}

beforeAll(async () => {
  broker = await startBroker();
}, 60000);

afterAll(async () => {
  await broker?.stop();
});

beforeEach(async () => {
  await broker.setFaults({});
  await broker.resetStats();
});

describe('mqttRoundTrip', () => {
  it('succeeds over plain ws:// and reports each phase', async () => {
    const timings = await mqttRoundTrip(options({ messageCount: 5 }));

    expect(timings.totalMs).toBe(timings.connectMs + timings.subscribeMs + timings.publishMs + timings.receiveMs);
    expect((await broker.stats()).published).toBe(5);
  });

  it('fails in the subscribe phase when the subscription is refused', async () => {
    await broker.setFaults({ refuseSubscribe: true });

    const err = await failure(mqttRoundTrip(options()));

    expect(err.phase).toBe('subscribe');
    expect(err.message).toMatch(/subscribe error|refused/i);
    expect((await broker.stats()).published).toBe(0);
  });

  it('fails in the publish phase when the broker drops the connection on publish', async () => {
    await broker.setFaults({ refusePublish: true });

    const err = await failure(mqttRoundTrip(options()));

    expect(err.phase).toBe('publish');
    expect(err.elapsedMs).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  });

  it('reports how many messages came back before a receive failure', async () => {
    await broker.setFaults({ dropNext: 1 });

    const err = await failure(mqttRoundTrip(options({ messageCount: 3 })));

    expect([err.phase, err.received]).toEqual(['receive', 2]);
  });

  it('rejects a message count below one before connecting', async () => {
    await expect(mqttRoundTrip(options({ messageCount: 0 }))).rejects.toThrow(RangeError);
    expect((await broker.stats()).tcpConnections).toBe(0);
  });
});

describe('createHealthCheck', () => {
  it('counts a slow secret read against the deadline', async () => {
    // Given a guard that takes 1.5 s of a 2-s deadline, and a broker slower than the rest
    await broker.setFaults({ deliveryDelayMs: 5000 });
    const deadlineMs = 2000;
    const check = createHealthCheck({
      brokerUrl: async () => `${broker.url}/mqtt`,
      guard: { check: () => new Promise((r) => setTimeout(() => r('allowed'), 1500)) },
      namePrefix: 'iot-dr',
      messageCount: 1,
      deadlineMs,
      log: () => undefined,
    });

    // When
    const res = await check({ queryStringParameters: { key: 'k' } });

    // Then the round trip got only what was left of the deadline (at most 500 ms; the verdict and its
    // own elapsed time are asserted, with 1 s of slack for a loaded machine), not a fresh 2 s
    expect(res.statusCode).toBe(503);
    const body = JSON.parse(res.body as string);
    expect(body.phase).toBe('receive');
    expect(body.elapsedMs).toBeLessThan(1500);
  });

  it('answers 403 without connecting when the guard denies the key', async () => {
    await broker.resetStats();
    const check = createHealthCheck({
      brokerUrl: async () => `${broker.url}/mqtt`,
      guard: { check: async () => 'denied' },
      namePrefix: 'iot-dr',
      messageCount: 1,
      deadlineMs: DEADLINE_MS,
      log: () => undefined,
    });

    expect((await check({ queryStringParameters: { key: 'other' } })).statusCode).toBe(403);
    expect((await broker.stats()).tcpConnections).toBe(0);
  });
});
