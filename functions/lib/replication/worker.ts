import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { InvalidEventError, integerEnv, RetryableError, requiredEnv } from '../errors';
import { callBoundMs } from '../aws';
import type { EventApplier } from './apply';
import { DEFAULT_PRINCIPAL_GRACE_SECONDS, MAX_PRINCIPAL_GRACE_SECONDS, PRINCIPAL_GRACE_ENV } from '../principal-grace';
import { createContext, type Outcome, type ReplicationContext, type ReplicationMode, type ConflictPolicy } from './context';
import type { EventType } from './events';
import { tableChangeLog } from './change-log';

/**
 * AWS SDK limits of the workers' clients: 3 attempts of at most 1 s to connect and 2 s to answer
 * (IoT control and data plane calls answer in tens of milliseconds), so one call ends within
 * {@link WORKER_CALL_BOUND_MS} (9.3 s): a call that never answers fails as `TimeoutError`, is
 * retried by the SDK, then surfaces as `RetryableError` to the workflow's retrier, well before the
 * worker's own deadline (`replication.workerTimeoutSeconds`, default 20 s) would end the invocation.
 */
export const WORKER_CLIENT_LIMITS = { maxAttempts: 3, requestTimeoutMs: 2_000, connectionTimeoutMs: 1_000 } as const;

/** Longest one AWS call of a worker can take (every attempt timing out, plus backoff). */
export const WORKER_CALL_BOUND_MS = callBoundMs(WORKER_CLIENT_LIMITS);

/** A worker's input: the Step Functions state input built by the trigger. */
export interface WorkerInput {
  /** The table item's `uuid`. */
  readonly eventId: string;
  /** The unmarshalled table item (the registry/shadow event fields plus bookkeeping). */
  readonly event: Record<string, unknown>;
}

/** A worker's output (the Step Functions task result). */
export interface WorkerOutput {
  readonly outcomes: Outcome[];
}

/**
 * The body of every worker Lambda: validates the input, checks the event type belongs to this
 * worker, applies it with `apply` (the worker family's applier, e.g. `applyThingEvent`), counts
 * it (`ReplicatedEvents` / `FailedEvents` / `RetryableFailures`, dimension `EventType`;
 * `TargetWrites`) and flushes the metrics before returning. Errors propagate: their `name` is
 * what the workflow retries or catches on.
 */
export async function runWorker(
  ctx: ReplicationContext,
  metrics: Metrics,
  accepted: readonly EventType[],
  apply: EventApplier,
  input: unknown,
): Promise<WorkerOutput> {
  let eventType = 'unknown';
  // One single-metric per count: its dimension cannot leak into another invocation's metrics.
  const count = (name: string) => {
    const metric = metrics.singleMetric();
    metric.addDimension('EventType', eventType);
    metric.addMetric(name, MetricUnit.Count, 1);
  };
  try {
    if (typeof input !== 'object' || input === null) throw new InvalidEventError('input', 'must be an object { eventId, event }', { received: input });
    const { eventId, event } = input as Partial<WorkerInput>;
    if (typeof eventId !== 'string' || eventId === '') throw new InvalidEventError('eventId', 'must be a non-empty string', { received: eventId });
    if (typeof event !== 'object' || event === null || Array.isArray(event)) {
      throw new InvalidEventError('event', 'must be an object (the unmarshalled table item)', { received: event, context: { eventId } });
    }
    const type = event.eventType;
    if (!accepted.includes(type as EventType)) {
      throw new InvalidEventError('event.eventType', `must be one of ${accepted.join(', ')} for this worker`, { received: type, context: { eventId } });
    }
    eventType = type as string;
    const outcomes = await apply(ctx, event, eventId);
    count('ReplicatedEvents');
    // Writes made in the target region (anything but unchanged/skipped), flushed below.
    metrics.addMetric('TargetWrites', MetricUnit.Count, outcomes.filter((o) => o.action !== 'unchanged' && o.action !== 'skipped').length);
    return { outcomes };
  } catch (error) {
    count(error instanceof RetryableError ? 'RetryableFailures' : 'FailedEvents');
    if (error instanceof InvalidEventError) {
      const eventId = (input as { eventId?: unknown } | null)?.eventId;
      ctx.logger.error('invalid worker input', { error, eventId: typeof eventId === 'string' ? eventId : null, thingName: null });
    }
    throw error;
  } finally {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}

/**
 * A worker Lambda's handler for `accepted` event types, applied by `apply`: its family's applier
 * (`applyThingEvent`, `applyThingTypeEvent`, `applyThingGroupEvent`, `applyShadowEvent`), never the
 * all-families `applyEvent`, so that the bundle holds only that family's code and AWS calls (the
 * ones its IAM role grants: __tests__/workflow/worker-iam.test.ts). Call it at module load: it reads
 * `ORIGIN_REGION` (the region read), `TARGET_REGION` (the region written: the worker's own),
 * `CONFLICT_POLICY` (`mirror` one-way, `merge` two-way; `mirror` when unset), `REPLICATION_MODE` and
 * `PRINCIPAL_GRACE_SECONDS` at once
 * (a missing or bad variable fails the cold start loudly instead of every event) and creates the
 * context and metrics once. `PRINCIPAL_GRACE_SECONDS` (whole seconds, 0 to 3600; 300 when unset)
 * is set by the stack from `replication.principalGraceSeconds`, the same value that sizes the
 * workflow's `PrincipalPendingError` retrier.
 */
export function workerHandler(
  serviceName: string,
  accepted: readonly EventType[],
  apply: EventApplier,
): (input: unknown) => Promise<WorkerOutput> {
  const conflicts = (process.env.CONFLICT_POLICY?.trim() ? requiredEnv('CONFLICT_POLICY', ['mirror', 'merge']) : 'mirror') as ConflictPolicy;
  const ctx = createContext({
    originRegion: requiredEnv('ORIGIN_REGION'),
    targetRegion: requiredEnv('TARGET_REGION'),
    conflicts,
    // Two-way: the replication table's bookkeeping, in the worker's own region (TABLE_NAME).
    ...(conflicts === 'merge' && process.env.TABLE_NAME?.trim()
      ? { changes: tableChangeLog({ tableName: requiredEnv('TABLE_NAME'), region: requiredEnv('TARGET_REGION'), endpoint: process.env.IOT_DR_AWS_ENDPOINT }) }
      : {}),
    mode: requiredEnv('REPLICATION_MODE', ['complete', 'thing-only']) as ReplicationMode,
    principalGraceMs:
      integerEnv(PRINCIPAL_GRACE_ENV, { min: 0, max: MAX_PRINCIPAL_GRACE_SECONDS, fallback: DEFAULT_PRINCIPAL_GRACE_SECONDS }) * 1000,
    logger: new Logger({ serviceName }),
    ...WORKER_CLIENT_LIMITS,
  });
  const metrics = new Metrics({ namespace: 'IotDr', serviceName });
  return (input) => runWorker(ctx, metrics, accepted, apply, input);
}
