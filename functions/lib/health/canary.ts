/**
 * The in-region canary: one scheduled run does `checks` MQTT round trips, `intervalMs` apart, and
 * publishes each result as a CloudWatch datapoint (1 = failed, 0 = succeeded). The region's alarm
 * (functions/lib/health/alarm.ts) turns the datapoints into a state that Route 53 reads. Nothing
 * listens on the network, and there is no secret.
 */
import { randomUUID } from 'node:crypto';
import { type CloudWatchClient, PutMetricDataCommand, StandardUnit } from '@aws-sdk/client-cloudwatch';
import { CANARY_DIMENSION, CANARY_LATENCY_METRIC, CANARY_METRIC, CANARY_NAMESPACE } from './alarm';
import { mqttRoundTrip, RoundTripError } from './round-trip';

/** The result of one check, as published. */
export interface CanaryResult {
  /** When the check started (epoch ms): the datapoint's timestamp. */
  readonly timestamp: number;
  readonly healthy: boolean;
  /** Phase that failed, when unhealthy. */
  readonly phase?: string;
  readonly error?: string;
  readonly totalMs: number;
  /** Whether the datapoint reached CloudWatch. */
  readonly published: boolean;
}

/** Publishes one check's result. */
export type ResultPublisher = (result: Omit<CanaryResult, 'published'>) => Promise<void>;

export interface CanarySettings {
  readonly brokerUrl: () => Promise<string>;
  readonly ca?: string;
  readonly namePrefix: string;
  readonly messageCount: number;
  /** Deadline of one round trip. */
  readonly deadlineMs: number;
  /** Time between the starts of two checks. */
  readonly intervalMs: number;
  /** Checks per run. */
  readonly checks: number;
  readonly publish: ResultPublisher;
  /** Clock (epoch ms). @default Date.now */
  readonly now?: () => number;
  /** Waits; the drill and tests pass a virtual clock's. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default console.log of one JSON line */
  readonly log?: (entry: Record<string, unknown>) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One round trip, judged: never throws. */
export async function canaryCheck(settings: CanarySettings): Promise<Omit<CanaryResult, 'published' | 'timestamp'>> {
  const id = randomUUID();
  const started = Date.now();
  try {
    const timings = await mqttRoundTrip({
      url: await settings.brokerUrl(),
      clientId: `${settings.namePrefix}-hc-${id}`,
      topic: `${settings.namePrefix}/health/${id}`,
      messageCount: settings.messageCount,
      deadlineMs: settings.deadlineMs,
      ca: settings.ca,
    });
    return { healthy: true, totalMs: timings.totalMs };
  } catch (err) {
    const phase = err instanceof RoundTripError ? err.phase : 'connect';
    const error = err instanceof Error ? err.message : String(err);
    return { healthy: false, phase, error, totalMs: Date.now() - started };
  }
}

/** One scheduled run: `checks` checks, each published as soon as it is judged. */
export async function runCanary(settings: CanarySettings): Promise<CanaryResult[]> {
  const now = settings.now ?? Date.now;
  const sleep = settings.sleep ?? realSleep;
  const log = settings.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const startedAt = now();
  const results: CanaryResult[] = [];
  for (let i = 0; i < settings.checks; i++) {
    const due = startedAt + i * settings.intervalMs;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    const timestamp = now();
    const check = await canaryCheck(settings);
    let published = true;
    try {
      await settings.publish({ timestamp, ...check });
    } catch (err) {
      // Not fatal: a missing datapoint counts as a failure in the alarm anyway (missing = breaching).
      published = false;
      log({ outcome: 'publish-failed', error: err instanceof Error ? err.message : String(err) });
    }
    const result: CanaryResult = { timestamp, ...check, published };
    log({ outcome: check.healthy ? 'healthy' : 'unhealthy', check: i + 1, ...check, published });
    results.push(result);
  }
  return results;
}

/**
 * Publishes results to CloudWatch: standard resolution (Route 53 reads only those), one call per
 * check, bounded by `timeoutMs`.
 */
export function cloudWatchPublisher(
  cloudwatch: CloudWatchClient,
  namePrefix: string,
  timeoutMs = 3000,
): ResultPublisher {
  const dimensions = [{ Name: CANARY_DIMENSION, Value: namePrefix }];
  return async (result) => {
    const timestamp = new Date(result.timestamp);
    await cloudwatch.send(
      new PutMetricDataCommand({
        Namespace: CANARY_NAMESPACE,
        MetricData: [
          {
            MetricName: CANARY_METRIC,
            Dimensions: dimensions,
            Timestamp: timestamp,
            Value: result.healthy ? 0 : 1,
            Unit: StandardUnit.Count,
            StorageResolution: 60,
          },
          ...(result.healthy
            ? [
                {
                  MetricName: CANARY_LATENCY_METRIC,
                  Dimensions: dimensions,
                  Timestamp: timestamp,
                  Value: result.totalMs,
                  Unit: StandardUnit.Milliseconds,
                  StorageResolution: 60,
                },
              ]
            : []),
        ],
      }),
      { abortSignal: AbortSignal.timeout(timeoutMs) },
    );
  };
}
