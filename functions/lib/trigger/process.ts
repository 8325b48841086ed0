/**
 * The stream trigger's batch processing. Malformed records go to the DLQ with the reason, the
 * secondary's own events are skipped, and only the records that were not handled are reported back
 * to Lambda as `batchItemFailures` (Lambda retries from the first of them, then sends the batch's
 * coordinates to the DLQ after the mapping's bounded retries: nothing is dropped silently).
 *
 * - `EXPRESS`: the batch's events run as one synchronous Express execution of the batch workflow
 *   (StartSyncExecution; more than one when the batch exceeds 40 events or 256 KiB of input). A
 *   failed, timed-out or unreachable execution returns all its records; an event the workflow
 *   could not even record as a failure (`unrecorded`) returns its record.
 * - `STANDARD`: one execution per record, named after the item id (a redelivered record finds its
 *   execution already there).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartSyncExecution.html
 */
import { type SFNClient, StartExecutionCommand, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { WorkflowType } from './config';
import { decodeRecord, MAX_EVENTS_PER_BATCH_EXECUTION, MAX_EXECUTION_INPUT_BYTES } from './records';

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
  /** @default 'STANDARD' (one execution per record) */
  readonly workflowType?: WorkflowType;
  readonly dlqUrl: string;
  readonly targetRegion: string;
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
  // EXPRESS: what the batch executions did with each event.
  applied: 'EventsApplied',
  deferred: 'EventsDeferredToSlowLane',
  failedRecorded: 'FailedEventsRecorded',
  batchExecutions: 'BatchExecutions',
  batchExecutionsFailed: 'BatchExecutionsFailed',
} as const;

/**
 * StartExecution errors that concern the record itself: retrying the same request cannot succeed,
 * so the record goes to the DLQ instead of blocking its shard.
 */
const PERMANENT_START_ERRORS = new Set(['InvalidExecutionInput', 'InvalidName', 'ValidationException']);

/** Largest DLQ message body we build (SQS accepts 256 KiB; leave room for attributes). */
const MAX_DLQ_BODY_CHARS = 200_000;

type Outcome = 'started' | 'duplicate' | 'rejected' | 'skipped' | 'retry' | 'applied' | 'deferred' | 'failedRecorded';

/** Processes one batch of replica-stream records; never throws for a single bad record. */
export async function processBatch(
  records: readonly DynamoDBRecord[],
  deps: TriggerDependencies,
): Promise<DynamoDBBatchResponse> {
  const concurrency = Math.max(1, deps.concurrency ?? 10);
  const outcomes: Outcome[] = new Array(records.length);
  if (deps.workflowType === 'EXPRESS') {
    await runBatch(records, outcomes, deps);
  } else {
    let next = 0;
    const lane = async () => {
      while (next < records.length) {
        const index = next++;
        outcomes[index] = await processRecord(records[index], deps);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, lane));
  }

  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  if (deps.workflowType === 'EXPRESS') {
    deps.metrics.addMetric(METRIC.applied, 'Count', count('applied'));
    deps.metrics.addMetric(METRIC.deferred, 'Count', count('deferred'));
    deps.metrics.addMetric(METRIC.failedRecorded, 'Count', count('failedRecorded'));
  } else {
    deps.metrics.addMetric(METRIC.started, 'Count', count('started'));
    deps.metrics.addMetric(METRIC.duplicate, 'Count', count('duplicate'));
  }
  deps.metrics.addMetric(METRIC.rejected, 'Count', count('rejected'));
  deps.metrics.addMetric(METRIC.skipped, 'Count', count('skipped'));
  deps.metrics.addMetric(METRIC.retried, 'Count', count('retry'));

  const batchItemFailures = records
    .map((record, i) => ({ record, outcome: outcomes[i] }))
    .filter(({ outcome }) => outcome === 'retry')
    .map(({ record }) => ({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }));
  return { batchItemFailures };
}

/** One event of a batch execution: its record's index and its JSON item. */
interface BatchItem {
  readonly index: number;
  readonly eventId: string;
  readonly json: string;
  readonly bytes: number;
}

/** `{"events":[` + `]}` */
const BATCH_WRAPPER_BYTES = Buffer.byteLength('{"events":[]}');

/**
 * Splits the events into executions of at most {@link MAX_EVENTS_PER_BATCH_EXECUTION} events and
 * {@link MAX_EXECUTION_INPUT_BYTES} of input, in record order.
 */
export function chunkBatch<T extends { readonly bytes: number }>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = BATCH_WRAPPER_BYTES;
  for (const item of items) {
    const added = item.bytes + (current.length ? 1 : 0);
    if (
      current.length &&
      (current.length >= MAX_EVENTS_PER_BATCH_EXECUTION || bytes + added > MAX_EXECUTION_INPUT_BYTES)
    ) {
      chunks.push(current);
      current = [];
      bytes = BATCH_WRAPPER_BYTES;
    }
    bytes += item.bytes + (current.length ? 1 : 0);
    current.push(item);
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** EXPRESS: decodes every record, then runs the good ones as synchronous batch executions. */
async function runBatch(
  records: readonly DynamoDBRecord[],
  outcomes: Outcome[],
  deps: TriggerDependencies,
): Promise<void> {
  const items: BatchItem[] = [];
  await Promise.all(
    records.map(async (record, index) => {
      const decision = decodeRecord(record, deps.targetRegion);
      if (decision.kind === 'skip') {
        deps.logger.info('record not replicated', {
          eventId: decision.eventId,
          streamEventId: record.eventID,
          reason: decision.reason,
        });
        outcomes[index] = 'skipped';
        return;
      }
      if (decision.kind === 'reject') {
        outcomes[index] = await sendToDlq(record, decision.reason, decision.eventId, deps);
        return;
      }
      // The slow lane's execution name travels with the event; the rest is the per-event input
      // (spliced as text: exact big integers stay as they were decoded).
      const json = `{"executionName":${JSON.stringify(decision.executionName)},${decision.input.slice(1)}`;
      const bytes = Buffer.byteLength(json, 'utf8');
      if (bytes + BATCH_WRAPPER_BYTES > MAX_EXECUTION_INPUT_BYTES) {
        outcomes[index] = await sendToDlq(
          record,
          `execution input is ${bytes + BATCH_WRAPPER_BYTES} bytes; Step Functions accepts at most ${MAX_EXECUTION_INPUT_BYTES}`,
          decision.eventId,
          deps,
        );
        return;
      }
      items.push({ index, eventId: decision.eventId, json, bytes });
    }),
  );
  items.sort((a, b) => a.index - b.index);
  const chunks = chunkBatch(items);
  await Promise.all(chunks.map((chunk) => runChunk(chunk, records, outcomes, deps)));
  deps.metrics.addMetric(METRIC.batchExecutions, 'Count', chunks.length);
}

/** Runs one batch execution and sets the outcome of each of its records. */
async function runChunk(
  chunk: readonly BatchItem[],
  records: readonly DynamoDBRecord[],
  outcomes: Outcome[],
  deps: TriggerDependencies,
): Promise<void> {
  const eventIds = chunk.map((c) => c.eventId);
  const retryAll = (why: Record<string, unknown>) => {
    deps.metrics.addMetric(METRIC.batchExecutionsFailed, 'Count', 1);
    deps.logger.warn('batch execution did not complete; its records are returned to Lambda for retry', {
      ...why,
      eventIds,
    });
    for (const c of chunk) outcomes[c.index] = 'retry';
  };
  let result: { status?: string; output?: string; error?: string; cause?: string; executionArn?: string };
  try {
    result = await deps.sfn.send(
      new StartSyncExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        input: `{"events":[${chunk.map((c) => c.json).join(',')}]}`,
      }),
    );
  } catch (error) {
    retryAll({ error: errorName(error), message: (error as Error)?.message });
    return;
  }
  if (result.status !== 'SUCCEEDED') {
    // FAILED, TIMED_OUT (the 5-minute limit: no Catch ran) or anything unknown.
    retryAll({
      status: result.status,
      executionArn: result.executionArn,
      error: result.error,
      cause: result.cause?.slice(0, 1000),
    });
    return;
  }
  let output: unknown;
  try {
    output = JSON.parse(result.output ?? 'null');
  } catch {
    output = undefined;
  }
  if (!Array.isArray(output) || output.length !== chunk.length) {
    retryAll({
      status: result.status,
      executionArn: result.executionArn,
      reason: 'output is not one result per event',
    });
    return;
  }
  chunk.forEach((c, i) => {
    const item = output[i] as { eventId?: unknown; status?: unknown; error?: unknown } | null;
    const log = { eventId: c.eventId, streamEventId: records[c.index].eventID, executionArn: result.executionArn };
    if (item?.eventId !== c.eventId) {
      deps.logger.warn('batch result does not match the event; the record is returned for retry', {
        ...log,
        result: item,
      });
      outcomes[c.index] = 'retry';
    } else if (item.status === 'applied') {
      outcomes[c.index] = 'applied';
    } else if (item.status === 'deferred') {
      deps.logger.info('event handed to the slow lane (waits for its certificate)', log);
      outcomes[c.index] = 'deferred';
    } else if (item.status === 'failed') {
      deps.logger.error('event recorded in the failure table', { ...log, error: item.error });
      outcomes[c.index] = 'failedRecorded';
    } else {
      // `unrecorded`: not applied and not in the failure table. Retry; after the mapping's
      // retries its batch's coordinates go to the DLQ.
      deps.logger.error('event neither applied nor recorded; the record is returned for retry', {
        ...log,
        status: item.status,
        error: item.error,
      });
      outcomes[c.index] = 'retry';
    }
  });
}

async function processRecord(record: DynamoDBRecord, deps: TriggerDependencies): Promise<Outcome> {
  const streamEventId = record.eventID;
  const decision = decodeRecord(record, deps.targetRegion);
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
