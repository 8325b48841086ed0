/**
 * Replication health as `iot-dr failback` checks it, per direction and region: messages waiting in
 * the capture-error queues and the replication DLQs, records in the failure tables, and the stream
 * trigger's iterator age (CloudWatch `AWS/Lambda` `IteratorAge`: how far behind its stream the
 * trigger is). Resource names come from the same helpers the stack uses.
 */
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { IotDrConfig } from '../config/schema';
import { clientConfig } from '../functions/lib/aws';
import { type ReplicationTarget, replicationResourceName, resourceName } from '../stacks/names';

/** One check: `ok`, `attention` (something is waiting or failed), `absent` (not deployed) or `unknown`. */
export interface HealthCheck {
  readonly check: 'capture-errors' | 'replication-dlq' | 'failure-table' | 'stream-lag';
  readonly region: string;
  /** The queue, table or function checked. */
  readonly resource: string;
  readonly status: 'ok' | 'attention' | 'absent' | 'unknown';
  /** Messages, records or seconds. */
  readonly value: number | null;
  readonly detail: string;
}

/** Iterator age above this (seconds) means the trigger is behind its stream. */
export const STREAM_LAG_ATTENTION_SECONDS = 60;
/** Failure records counted at most (a Scan with Select COUNT, page by page). */
const MAX_FAILURE_PAGES = 20;

const name = (e: unknown) => (e as { name?: string })?.name ?? '';
const NOT_FOUND = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'ResourceNotFoundException']);

async function queueDepth(sqs: SQSClient, check: HealthCheck['check'], region: string, queue: string): Promise<HealthCheck> {
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    const n = Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    return { check, region, resource: queue, status: n ? 'attention' : 'ok', value: n, detail: n ? `${n} message(s) waiting: read them, fix the cause, then redrive or discard` : 'empty' };
  } catch (error) {
    if (NOT_FOUND.has(name(error))) return { check, region, resource: queue, status: 'absent', value: null, detail: 'queue not found (not deployed?)' };
    throw error;
  }
}

async function failureCount(ddb: DynamoDBClient, region: string, table: string): Promise<HealthCheck> {
  let count = 0;
  let start: Record<string, never> | undefined;
  try {
    for (let page = 0; page < MAX_FAILURE_PAGES; page++) {
      const out = await ddb.send(new ScanCommand({ TableName: table, Select: 'COUNT', ExclusiveStartKey: start }));
      count += out.Count ?? 0;
      start = out.LastEvaluatedKey as typeof start;
      if (!start) break;
    }
  } catch (error) {
    if (name(error) === 'ResourceNotFoundException') return { check: 'failure-table', region, resource: table, status: 'absent', value: null, detail: 'table not found (not deployed?)' };
    throw error;
  }
  const more = start ? '+' : '';
  return {
    check: 'failure-table',
    region,
    resource: table,
    status: count ? 'attention' : 'ok',
    value: count,
    detail: count ? `${count}${more} event(s) the workflow could not apply (reconciliation retries them; failback re-syncs the things anyway)` : 'no failures recorded',
  };
}

async function streamLag(cloudwatch: CloudWatchClient, region: string, functionName: string, now: Date): Promise<HealthCheck> {
  const base = { check: 'stream-lag' as const, region, resource: functionName };
  try {
    const out = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: functionName }],
        StartTime: new Date(now.getTime() - 10 * 60_000),
        EndTime: now,
        Period: 60,
        Statistics: ['Maximum'],
      }),
    );
    const points = (out.Datapoints ?? []).filter((d) => d.Timestamp && d.Maximum !== undefined);
    if (!points.length) return { ...base, status: 'ok', value: 0, detail: 'no IteratorAge data in the last 10 minutes (no records waiting)' };
    const latest = points.sort((a, b) => (b.Timestamp as Date).getTime() - (a.Timestamp as Date).getTime())[0];
    const seconds = Math.round((latest.Maximum as number) / 1000);
    return {
      ...base,
      status: seconds > STREAM_LAG_ATTENTION_SECONDS ? 'attention' : 'ok',
      value: seconds,
      detail: `trigger ${seconds} s behind its stream (IteratorAge, last minute with data)`,
    };
  } catch (error) {
    return { ...base, status: 'unknown', value: null, detail: `IteratorAge unavailable: ${name(error) || String(error)}` };
  }
}

/**
 * Every check of a deployment: the primary's capture errors and the secondary's replication
 * (both modes), plus the secondary's capture errors and the replication into the primary
 * (two-way only).
 */
export async function replicationHealth(config: IotDrConfig, options: { endpoint?: string; now?: Date } = {}): Promise<HealthCheck[]> {
  const now = options.now ?? new Date();
  const prefix = config.namePrefix;
  const regionOf: Record<ReplicationTarget, string> = { primary: config.primaryRegion, secondary: config.secondaryRegion };
  const targets: ReplicationTarget[] = config.replication.direction === 'two-way' ? ['secondary', 'primary'] : ['secondary'];
  const checks: Array<Promise<HealthCheck>> = [];
  const clients: Array<{ destroy(): void }> = [];
  for (const side of ['primary', 'secondary'] as const) {
    const region = regionOf[side];
    const config_ = clientConfig({ region, endpoint: options.endpoint, maxAttempts: 3 });
    const sqs = new SQSClient(config_);
    const ddb = new DynamoDBClient(config_);
    const cloudwatch = new CloudWatchClient(config_);
    clients.push(sqs, ddb, cloudwatch);
    // Capture errors in every region that captures (the region whose events are replicated away).
    const captures = side === 'primary' || targets.includes('primary');
    if (captures) checks.push(queueDepth(sqs, 'capture-errors', region, resourceName(prefix, 'capture-errors')));
    if (targets.includes(side)) {
      checks.push(queueDepth(sqs, 'replication-dlq', region, replicationResourceName(prefix, 'replication-dlq', side)));
      checks.push(failureCount(ddb, region, replicationResourceName(prefix, 'failures', side)));
      checks.push(streamLag(cloudwatch, region, replicationResourceName(prefix, 'stream-trigger', side), now));
    }
  }
  try {
    return await Promise.all(checks);
  } finally {
    for (const c of clients) c.destroy();
  }
}
