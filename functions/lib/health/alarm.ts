/**
 * The canary's CloudWatch metric and alarm, defined once: the stack synthesizes the alarm from
 * {@link canaryAlarm}, the canary publishes {@link CANARY_METRIC}, and the drill evaluates the same
 * definition with {@link evaluateAlarm}, which follows CloudWatch's documented rules:
 *
 * - datapoints are aggregated into periods aligned to multiples of the period (60 s: minutes);
 * - the alarm looks at the last `evaluationPeriods` complete periods and goes to ALARM when at least
 *   `datapointsToAlarm` of them breach;
 * - a period with no datapoint is "missing" and, with `treatMissingData: breaching`, counts as
 *   breaching (a dead region publishes nothing).
 *
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
 * Route 53 reads only alarms on standard-resolution metrics with a standard statistic:
 * https://docs.aws.amazon.com/Route53/latest/APIReference/API_AlarmIdentifier.html
 */

/** Namespace of the canary's metrics. */
export const CANARY_NAMESPACE = 'IotDr/Health';
/** 1 for a failed round trip, 0 for a successful one: one datapoint per check. */
export const CANARY_METRIC = 'RoundTripFailed';
/** Duration of a successful round trip (information only; no alarm). */
export const CANARY_LATENCY_METRIC = 'RoundTripMilliseconds';
/** Dimension naming the stack (the region is the metric's own region). */
export const CANARY_DIMENSION = 'Stack';
/**
 * The alarm's period. Route 53 cannot read alarms on high-resolution metrics, so the metric is
 * standard resolution and the shortest period is one minute.
 */
export const CANARY_PERIOD_SECONDS = 60;
/** The canary runs once a minute (EventBridge's finest rate) and checks several times per run. */
export const CANARY_SCHEDULE = 'rate(1 minute)';

export type ComparisonOperator =
  | 'GreaterThanOrEqualToThreshold'
  | 'GreaterThanThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';

/** The subset of an alarm definition that decides its state. */
export interface AlarmDefinition {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly statistic: 'Sum' | 'Average' | 'Minimum' | 'Maximum' | 'SampleCount';
  readonly period: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparisonOperator: ComparisonOperator;
  readonly treatMissingData: 'breaching' | 'notBreaching' | 'ignore' | 'missing';
}

/** Checks per scheduled run: one every `intervalSeconds` within the minute. */
export function checksPerRun(intervalSeconds: number): number {
  return Math.max(1, Math.floor(CANARY_PERIOD_SECONDS / intervalSeconds));
}

/**
 * The region's alarm: ALARM when a minute holds at least `failureThreshold` failed round trips
 * (capped at the checks one minute can hold), or holds no datapoint at all.
 */
export function canaryAlarm(namePrefix: string, failureThreshold: number, intervalSeconds: number): AlarmDefinition {
  return {
    namespace: CANARY_NAMESPACE,
    metricName: CANARY_METRIC,
    dimensions: { [CANARY_DIMENSION]: namePrefix },
    statistic: 'Sum',
    period: CANARY_PERIOD_SECONDS,
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    threshold: Math.min(failureThreshold, checksPerRun(intervalSeconds)),
    comparisonOperator: 'GreaterThanOrEqualToThreshold',
    treatMissingData: 'breaching',
  };
}

/**
 * Worst-case seconds from the start of an outage until the alarm's period that proves it closes:
 * the k-th failed check comes at most k intervals after the outage starts, and the period holding
 * it (and the failures after it) ends at most one period later. A region where nothing runs at all
 * publishes nothing: the first period with no datapoint ends at most two periods after the last one.
 * CloudWatch's evaluation delay and Route 53's reading of the alarm come on top (AWS gives no number).
 */
export function canaryWorstCaseSeconds(failureThreshold: number, intervalSeconds: number) {
  const k = Math.min(failureThreshold, checksPerRun(intervalSeconds));
  return { failingRoundTrips: k * intervalSeconds + CANARY_PERIOD_SECONDS, nothingRuns: 2 * CANARY_PERIOD_SECONDS };
}

export interface Datapoint {
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly value: number;
}

export interface PeriodEvaluation {
  /** Epoch ms of the period's start (aligned to the period). */
  readonly start: number;
  /** The statistic over the period, or null when the period had no datapoint. */
  readonly value: number | null;
  readonly breaching: boolean;
}

export interface AlarmEvaluation {
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  readonly periods: readonly PeriodEvaluation[];
}

function statistic(kind: AlarmDefinition['statistic'], values: number[]): number {
  switch (kind) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'SampleCount':
      return values.length;
  }
}

function breaches(op: ComparisonOperator, value: number, threshold: number): boolean {
  switch (op) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
  }
}

/**
 * The state CloudWatch would give the alarm when it evaluates at `at` (epoch ms): the last
 * `evaluationPeriods` periods that ended at or before `at`.
 */
export function evaluateAlarm(def: AlarmDefinition, datapoints: readonly Datapoint[], at: number): AlarmEvaluation {
  const periodMs = def.period * 1000;
  const lastEnd = Math.floor(at / periodMs) * periodMs;
  const periods: PeriodEvaluation[] = [];
  for (let i = def.evaluationPeriods; i >= 1; i--) {
    const start = lastEnd - i * periodMs;
    const values = datapoints.filter((d) => d.timestamp >= start && d.timestamp < start + periodMs).map((d) => d.value);
    if (values.length === 0) {
      periods.push({ start, value: null, breaching: def.treatMissingData === 'breaching' });
    } else {
      const value = statistic(def.statistic, values);
      periods.push({ start, value, breaching: breaches(def.comparisonOperator, value, def.threshold) });
    }
  }
  const allMissing = periods.every((p) => p.value === null);
  if (allMissing && def.treatMissingData === 'missing') return { state: 'INSUFFICIENT_DATA', periods };
  const breaching = periods.filter((p) => p.breaching).length;
  return { state: breaching >= def.datapointsToAlarm ? 'ALARM' : 'OK', periods };
}
