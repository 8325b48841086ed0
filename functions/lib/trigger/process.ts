/**
 * The stream trigger's batch processing: one workflow execution per record, named after the item
 * id (a redelivered record finds its execution already there), malformed records to the DLQ with
 * the reason, and only the records whose start failed transiently reported back to Lambda as
 * `batchItemFailures` (Lambda then retries from the first of them; starts are idempotent).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
 */
import { type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { decodeRecord } from './records';

/** What the batch processor logs through (Powertools Logger fits). */
export interface TriggerLogger {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** What the batch processor counts (Powertools Metrics fits). */
export interface TriggerMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
}

export interface TriggerDependencies {
  readonly sfn: SFNClient;
  readonly sqs: SQSClient;
  readonly stateMachineArn: string;
  readonly dlqUrl: string;
  readonly secondaryRegion: string;
  readonly logger: TriggerLogger;
  readonly metrics: TriggerMetrics;
  /** Records started at the same time. @default 10 */
  readonly concurrency?: number;
}

/** Metric names (CloudWatch, namespace set by the handler). */
export const METRIC = {
  started: 'ExecutionsStarted',
  duplicate: 'DuplicateRecords',
  rejected: 'RejectedRecords',
  skipped: 'SkippedOwnRegionRecords',
  retried: 'RecordsReturnedForRetry',
} as const;

/**
 * StartExecution errors that concern the record itself: retrying the same request cannot succeed,
 * so the record goes to the DLQ instead of blocking its shard.
 */
const PERMANENT_START_ERRORS = new Set(['InvalidExecutionInput', 'InvalidName', 'ValidationException']);

/** Largest DLQ message body we build (SQS accepts 256 KiB; leave room for attributes). */
const MAX_DLQ_BODY_CHARS = 200_000;

type Outcome = 'started' | 'duplicate' | 'rejected' | 'skipped' | 'retry';

/** Processes one batch of replica-stream records; never throws for a single bad record. */
export async function processBatch(
  records: readonly DynamoDBRecord[],
  deps: TriggerDependencies,
): Promise<DynamoDBBatchResponse> {
  const concurrency = Math.max(1, deps.concurrency ?? 10);
  const outcomes: Outcome[] = new Array(records.length);
  let next = 0;
  const lane = async () => {
    while (next < records.length) {
      const index = next++;
      outcomes[index] = await processRecord(records[index], deps);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, lane));

  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  deps.metrics.addMetric(METRIC.started, 'Count', count('started'));
  deps.metrics.addMetric(METRIC.duplicate, 'Count', count('duplicate'));
  deps.metrics.addMetric(METRIC.rejected, 'Count', count('rejected'));
  deps.metrics.addMetric(METRIC.skipped, 'Count', count('skipped'));
  deps.metrics.addMetric(METRIC.retried, 'Count', count('retry'));

  const batchItemFailures = records
    .map((record, i) => ({ record, outcome: outcomes[i] }))
    .filter(({ outcome }) => outcome === 'retry')
    .map(({ record }) => ({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }));
  return { batchItemFailures };
}

async function processRecord(record: DynamoDBRecord, deps: TriggerDependencies): Promise<Outcome> {
  const streamEventId = record.eventID;
  const decision = decodeRecord(record, deps.secondaryRegion);
  if (decision.kind === 'skip') {
    deps.logger.info('record not replicated', { eventId: decision.eventId, streamEventId, reason: decision.reason });
    return 'skipped';
  }
  if (decision.kind === 'reject') {
    return sendToDlq(record, decision.reason, decision.eventId, deps);
  }

  const log = {
    eventId: decision.eventId,
    streamEventId,
    executionName: decision.executionName,
    thingName: decision.thingName,
  };
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: decision.executionName,
        input: decision.input,
      }),
    );
    deps.logger.info('execution started', { ...log, executionArn: started.executionArn });
    return 'started';
  } catch (error) {
    const name = errorName(error);
    if (name === 'ExecutionAlreadyExists') {
      // A redelivered record: its execution exists (running or closed). That is success.
      deps.logger.info('execution already exists: record was delivered before', log);
      return 'duplicate';
    }
    if (PERMANENT_START_ERRORS.has(name)) {
      return sendToDlq(
        record,
        `StartExecution rejected the record: ${name}: ${(error as Error).message}`,
        decision.eventId,
        deps,
      );
    }
    deps.logger.warn('StartExecution failed; the record is returned to Lambda for retry', {
      ...log,
      error: name,
      message: (error as Error)?.message,
    });
    return 'retry';
  }
}

async function sendToDlq(
  record: DynamoDBRecord,
  reason: string,
  eventId: string | undefined,
  deps: TriggerDependencies,
): Promise<Outcome> {
  const streamEventId = record.eventID;
  deps.logger.error('record rejected: sent to the DLQ', { eventId, streamEventId, reason });
  let body = JSON.stringify({ reason, record });
  if (body.length > MAX_DLQ_BODY_CHARS) {
    // Keep what identifies the record; the full image stays in the table until its TTL.
    const { NewImage: _dropped, ...rest } = record.dynamodb ?? {};
    body = JSON.stringify({ reason, recordTruncated: true, record: { ...record, dynamodb: rest } });
  }
  try {
    await deps.sqs.send(
      new SendMessageCommand({
        QueueUrl: deps.dlqUrl,
        MessageBody: body,
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: reason.slice(0, 1024) },
          ...(eventId ? { eventId: { DataType: 'String', StringValue: eventId } } : {}),
          ...(streamEventId ? { streamEventId: { DataType: 'String', StringValue: streamEventId } } : {}),
        },
      }),
    );
    return 'rejected';
  } catch (error) {
    // Never drop it: Lambda retries the record, and after the mapping's retries its on-failure
    // destination keeps the batch's coordinates.
    deps.logger.error('DLQ SendMessage failed; the record is returned to Lambda for retry', {
      eventId,
      streamEventId,
      error: errorName(error),
      message: (error as Error)?.message,
    });
    return 'retry';
  }
}

function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'name' in error) return String((error as { name: unknown }).name);
  return 'Error';
}
