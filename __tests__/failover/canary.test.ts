/**
 * The health canary end to end: the handler module (cold start from its environment, as Lambda
 * loads it) against aedes over WSS, its datapoints published to moto's CloudWatch and read back;
 * then the alarm definition the stack synthesizes, evaluated with CloudWatch's documented rules.
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import {
  CANARY_METRIC,
  CANARY_NAMESPACE,
  canaryAlarm,
  canaryWorstCaseSeconds,
  evaluateAlarm,
} from '../../functions/lib/health/alarm';
import { runCanary } from '../../functions/lib/health/canary';
import { opensslAvailable, startBroker, type TestBroker } from '../support/broker';
import { FAKE_CREDENTIALS, motoClient, startMoto, type Moto } from '../support/moto';

type CanaryHandler = () => Promise<{ checks: number; failed: number; unpublished: number }>;

const REGION = 'us-east-1';
/** Roomy: the verdicts are asserted, not the speed of a loaded machine. */
const DEADLINE_MS = 2500;

let moto: Moto;
let broker: TestBroker;
let cloudwatch: CloudWatchClient;
let logSpy: jest.SpyInstance;
const savedEnv = { ...process.env };

/** Loads the canary handler with its environment (a cold start). */
function coldStart(prefix: string, overrides: Record<string, string> = {}): CanaryHandler {
  Object.assign(process.env, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: 'session-token',
    IOT_DR_AWS_ENDPOINT: moto.endpoint,
    IOT_DR_HEALTH_ENDPOINT: 'abcdefgh12345-ats.iot.us-east-1.amazonaws.com',
    IOT_DR_HEALTH_ENDPOINT_URL: broker.url,
    ...(broker.caFile ? { IOT_DR_HEALTH_CA_FILE: broker.caFile } : {}),
    IOT_DR_NAME_PREFIX: prefix,
    IOT_DR_HEALTH_MESSAGE_COUNT: '2',
    IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(DEADLINE_MS),
    IOT_DR_CANARY_INTERVAL_SECONDS: '1',
    IOT_DR_CANARY_CHECKS: '2',
    ...overrides,
  });
  let loaded: CanaryHandler | undefined;
  jest.isolateModules(() => {
    loaded = (require('../../functions/health-canary/handler') as { handler: CanaryHandler }).handler;
  });
  return loaded as CanaryHandler;
}

/** The datapoints of one stack's canary metric in moto: count and sum over the last hour. */
async function published(prefix: string): Promise<{ count: number; failures: number }> {
  const end = new Date(Date.now() + 60_000);
  const out = await cloudwatch.send(
    new GetMetricStatisticsCommand({
      Namespace: CANARY_NAMESPACE,
      MetricName: CANARY_METRIC,
      Dimensions: [{ Name: 'Stack', Value: prefix }],
      StartTime: new Date(end.getTime() - 3_600_000),
      EndTime: end,
      Period: 3600,
      Statistics: ['SampleCount', 'Sum'],
    }),
  );
  const points = out.Datapoints ?? [];
  return {
    count: points.reduce((a, p) => a + (p.SampleCount ?? 0), 0),
    failures: points.reduce((a, p) => a + (p.Sum ?? 0), 0),
  };
}

beforeAll(async () => {
  logSpy = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  [moto, broker] = await Promise.all([startMoto(), startBroker({ tls: opensslAvailable() })]);
  cloudwatch = motoClient(CloudWatchClient, moto.endpoint, REGION);
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

describe('Function: health-canary', () => {
  it('publishes 0 (no failure) per successful round trip, one connection per check', async () => {
    const handler = coldStart('canary-ok');

    const result = await handler();

    expect(result).toEqual({ checks: 2, failed: 0, unpublished: 0 });
    expect(await published('canary-ok')).toEqual({ count: 2, failures: 0 });
    const stats = await broker.stats();
    expect(stats.mqttConnections).toBe(2);
    expect(stats.clientIds.every((id) => /^canary-ok-hc-[0-9a-f-]{36}$/.test(id))).toBe(true);
    const lines = logSpy.mock.calls.map((c) => JSON.parse(String(c[0]))).filter((l) => l.check !== undefined);
    expect(lines.slice(-2).map((l) => l.outcome)).toEqual(['healthy', 'healthy']);
  });

  it('publishes 1 per failed round trip when the broker is down', async () => {
    const handler = coldStart('canary-down');
    await broker.down();
    try {
      const result = await handler();

      expect(result).toEqual({ checks: 2, failed: 2, unpublished: 0 });
      expect(await published('canary-down')).toEqual({ count: 2, failures: 2 });
    } finally {
      await broker.up();
    }
  });

  it('publishes 1 when the round trip runs out of time (CONNACK after the deadline)', async () => {
    const handler = coldStart('canary-slow', { IOT_DR_HEALTH_DEADLINE_MILLISECONDS: '500', IOT_DR_CANARY_CHECKS: '1' });
    await broker.setFaults({ connackDelayMs: 2500 });

    const result = await handler();

    expect(result).toEqual({ checks: 1, failed: 1, unpublished: 0 });
    expect(await published('canary-slow')).toEqual({ count: 1, failures: 1 });
  });

  it('finishes its run when CloudWatch cannot be reached: nothing published, which the alarm counts as breaching', async () => {
    const handler = coldStart('canary-nocw', { IOT_DR_AWS_ENDPOINT: 'http://127.0.0.1:9', IOT_DR_CANARY_CHECKS: '1' });

    const result = await handler();

    expect(result).toEqual({ checks: 1, failed: 0, unpublished: 1 });
    expect(await published('canary-nocw')).toEqual({ count: 0, failures: 0 });
  });
});

describe('Canary alarm: CloudWatch rules on the synthesized definition', () => {
  const alarm = canaryAlarm('iot-dr', 3, 10);
  const minute = (n: number) => Date.UTC(2026, 0, 1, 0, n, 0);
  /** Six checks 10 s apart from `start` (ms), the ones at or after `failFrom` failing. */
  const checks = (start: number, failFrom = Number.POSITIVE_INFINITY) =>
    Array.from({ length: 6 }, (_, i) => start + i * 10_000).map((t) => ({
      timestamp: t,
      value: t >= failFrom ? 1 : 0,
    }));

  it('is OK while every round trip succeeds', () => {
    expect(evaluateAlarm(alarm, checks(minute(0) + 5000), minute(1)).state).toBe('OK');
  });

  it('threat (dead region): a minute with no datapoint at all is ALARM (missing data is breaching)', () => {
    const evaluation = evaluateAlarm(alarm, checks(minute(0) + 5000), minute(2));
    expect(evaluation.state).toBe('ALARM');
    expect(evaluation.periods).toEqual([{ start: minute(1), value: null, breaching: true }]);
  });

  it('is ALARM for failureThreshold failures in a minute, OK for one fewer (a blip does not fail a region over)', () => {
    const three = checks(minute(0), minute(0) + 30_000);
    const two = checks(minute(0), minute(0) + 40_000);
    expect(evaluateAlarm(alarm, three, minute(1)).state).toBe('ALARM');
    expect(evaluateAlarm(alarm, two, minute(1)).state).toBe('OK');
  });

  it('judges only complete periods: failures in the running minute wait for it to end', () => {
    const points = [...checks(minute(0)), ...checks(minute(1), minute(1))];
    expect(evaluateAlarm(alarm, points, minute(1) + 59_000).state).toBe('OK');
    expect(evaluateAlarm(alarm, points, minute(2)).state).toBe('ALARM');
  });

  it('detects an outage within the documented worst case (k intervals + one period), wherever it starts', () => {
    const bound = canaryWorstCaseSeconds(3, 10).failingRoundTrips * 1000;
    expect(bound).toBe(90_000);
    // Checks run every 10 s from t=3 s; the outage starts at every second of a minute in turn
    const times = Array.from({ length: 60 }, (_, i) => minute(0) + 3000 + i * 10_000);
    for (let offset = 0; offset < 60_000; offset += 1000) {
      const outage = minute(2) + offset;
      const points = times.map((t) => ({ timestamp: t, value: t >= outage ? 1 : 0 }));
      let at = Math.ceil(outage / 60_000) * 60_000;
      while (evaluateAlarm(alarm, points, at).state !== 'ALARM') at += 60_000;
      expect(at - outage).toBeLessThanOrEqual(bound);
    }
  });

  it('caps the threshold at the checks one minute holds (30-second interval: 2 checks)', () => {
    expect(canaryAlarm('iot-dr', 3, 30).threshold).toBe(2);
    expect(canaryAlarm('iot-dr', 1, 10).threshold).toBe(1);
  });
});

describe('runCanary with a virtual clock', () => {
  it('spaces checks by the interval on the injected clock and publishes each one', async () => {
    let clock = 1_000_000;
    const published: number[] = [];
    const results = await runCanary({
      brokerUrl: async () => `${broker.url}/mqtt`,
      ca: broker.caFile ? require('node:fs').readFileSync(broker.caFile, 'utf8') : undefined,
      namePrefix: 'virtual',
      messageCount: 1,
      deadlineMs: DEADLINE_MS,
      intervalMs: 10_000,
      checks: 3,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      publish: async (r) => {
        published.push(r.timestamp);
      },
      log: () => undefined,
    });
    expect(results.map((r) => r.healthy)).toEqual([true, true, true]);
    expect(published).toEqual([1_000_000, 1_010_000, 1_020_000]);
  });
});
