/**
 * The drill's canary path: the real canary library (functions/lib/health/canary.ts) against each
 * region's local broker, publishing to CloudWatch in moto, on a VIRTUAL clock. The round trips are
 * real; only the waiting between checks (10 s in AWS) is skipped, and the datapoints carry the
 * virtual times (in the recent past, which CloudWatch accepts). After each minute the region's
 * alarm, as the stack defines it, is evaluated by CloudWatch's documented rules
 * (functions/lib/health/alarm.ts) on the datapoints read back from CloudWatch.
 */
import { type CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import type { IotDrConfig } from '../../config/schema';
import {
  CANARY_DIMENSION,
  CANARY_METRIC,
  CANARY_NAMESPACE,
  canaryAlarm,
  checksPerRun,
  evaluateAlarm,
} from '../../functions/lib/health/alarm';
import { cloudWatchPublisher, runCanary } from '../../functions/lib/health/canary';
import type { DrillBroker } from './broker';

type Role = 'primary' | 'secondary';

export interface CanaryEvaluation {
  readonly atSeconds: number;
  readonly primary: { state: string; failures: number | null };
  readonly secondary: { state: string; failures: number | null };
  readonly dnsAnswer: 'primary' | 'secondary';
}

export interface CanaryDrill {
  /** Virtual epoch ms when the first run started. */
  readonly startedAt: number;
  /** The virtual clock. */
  now(): number;
  /** Datapoints published so far, per region. */
  readonly datapoints: Record<Role, number>;
  /** One scheduled run in each region (both start at the same virtual time); then one minute passes. */
  run(): Promise<void>;
  /** Evaluates both alarms at every minute boundary reached since the last call. */
  evaluateDue(): Promise<CanaryEvaluation[]>;
}

export interface CanaryDrillOptions {
  readonly config: IotDrConfig;
  readonly brokers: Record<Role, DrillBroker>;
  readonly cloudwatch: Record<Role, CloudWatchClient>;
  /** Real time, to place the virtual timeline in the recent past. @default Date.now */
  readonly realNow?: () => number;
}

const MINUTE = 60_000;

export function startCanaryDrill(options: CanaryDrillOptions): CanaryDrill {
  const { config } = options;
  const settings = config.healthCheck;
  const definition = canaryAlarm(config.namePrefix, settings.failureThreshold, settings.intervalSeconds);
  // 30 minutes ago, 17 s into a minute: scheduled runs start at an arbitrary second of the minute.
  const startedAt = Math.floor((options.realNow ?? Date.now)() / MINUTE) * MINUTE - 30 * MINUTE + 17_000;
  let clock = startedAt;
  let evaluatedUpTo = Math.floor(startedAt / MINUTE) * MINUTE;
  const datapoints: Record<Role, number> = { primary: 0, secondary: 0 };

  const runRegion = async (role: Role, start: number) => {
    let regionClock = start;
    const publish = cloudWatchPublisher(options.cloudwatch[role], config.namePrefix);
    await runCanary({
      brokerUrl: async () => options.brokers[role].url,
      namePrefix: config.namePrefix,
      messageCount: settings.messageCount,
      deadlineMs: settings.deadlineMilliseconds,
      intervalMs: settings.intervalSeconds * 1000,
      checks: checksPerRun(settings.intervalSeconds),
      now: () => regionClock,
      sleep: async (ms) => {
        regionClock += ms;
      },
      publish: async (r) => {
        await publish(r);
        datapoints[role] += 1;
      },
      log: () => undefined,
    });
  };

  /** The alarm's state at `at`, from the period's Sum read back from CloudWatch. */
  const alarmAt = async (role: Role, at: number) => {
    const start = at - definition.period * 1000;
    const out = await options.cloudwatch[role].send(
      new GetMetricStatisticsCommand({
        Namespace: CANARY_NAMESPACE,
        MetricName: CANARY_METRIC,
        Dimensions: [{ Name: CANARY_DIMENSION, Value: config.namePrefix }],
        StartTime: new Date(start),
        EndTime: new Date(at),
        Period: definition.period,
        Statistics: ['Sum'],
      }),
    );
    const points = (out.Datapoints ?? [])
      .filter((d) => d.Timestamp && d.Sum !== undefined)
      .map((d) => ({ timestamp: (d.Timestamp as Date).getTime(), value: d.Sum as number }))
      .filter((d) => d.timestamp >= start && d.timestamp < at);
    const evaluation = evaluateAlarm(definition, points, at);
    return { state: evaluation.state, failures: evaluation.periods[0]?.value ?? null };
  };

  return {
    startedAt,
    now: () => clock,
    datapoints,
    async run() {
      const start = clock;
      await Promise.all([runRegion('primary', start), runRegion('secondary', start)]);
      clock = start + MINUTE;
    },
    async evaluateDue() {
      const evaluations: CanaryEvaluation[] = [];
      while (evaluatedUpTo + MINUTE <= clock) {
        evaluatedUpTo += MINUTE;
        const [primary, secondary] = await Promise.all([
          alarmAt('primary', evaluatedUpTo),
          alarmAt('secondary', evaluatedUpTo),
        ]);
        // Route 53: the primary record while its check is healthy; the secondary when the primary is
        // unhealthy and the secondary healthy; both unhealthy -> answers as if both were healthy.
        const dnsAnswer = primary.state === 'ALARM' && secondary.state === 'OK' ? 'secondary' : 'primary';
        evaluations.push({
          atSeconds: Math.round((evaluatedUpTo - startedAt) / 1000),
          primary,
          secondary,
          dnsAnswer,
        });
      }
      return evaluations;
    },
  };
}
