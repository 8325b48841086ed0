// Helpers for the workflow tests (not a test file: jest only runs *.test.ts).
import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  STATE,
  WORKER_STATE,
  workflowDefinition,
  type AslDefinition,
  type WorkflowDefinitionProps,
} from '../../stacks/workflow-definition';

export const PRIMARY = 'us-east-1';
export const SECONDARY = 'us-west-2';
export const ACCOUNT = '123456789012';
export const FAILURE_TABLE = 'iot-dr-failures';

/** Fake worker ARNs: every Task is resolved to a local handler, nothing is invoked by ARN. */
export const FAKE_WORKERS = {
  thing: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing`,
  thingType: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing-type`,
  thingGroup: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing-group`,
  shadow: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-shadow`,
} as const;

/** Retry policy of the tests: the same shape as production, small numbers. */
export const TEST_RETRY = { maxAttempts: 3, intervalSeconds: 1, maxDelaySeconds: 20 } as const;

export function testDefinition(overrides: Partial<WorkflowDefinitionProps> = {}): AslDefinition {
  return workflowDefinition({
    workers: FAKE_WORKERS,
    failureTableName: FAILURE_TABLE,
    failureRetentionDays: 14,
    retry: TEST_RETRY,
    taskTimeoutSeconds: 60,
    ...overrides,
  });
}

/** A replication-table item as the capture rules write it (event fields + bookkeeping). */
export function item(
  fields: Record<string, unknown>,
  overrides: { uuid?: string; originRegion?: string } = {},
): Record<string, unknown> {
  return {
    uuid: overrides.uuid ?? randomUUID(),
    expires: Math.floor(Date.now() / 1000) + 48 * 3600,
    originRegion: overrides.originRegion ?? PRIMARY,
    topic: `$aws/events/${String(fields.eventType ?? 'x').toLowerCase()}`,
    ...fields,
  };
}

let sequence = 1000;

/** One replica-stream record for an item, in the shape Lambda delivers (images marshalled). */
export function streamRecord(
  image: object | undefined,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'INSERT',
): DynamoDBRecord {
  sequence += 1;
  const uuid = (image as { uuid?: unknown } | undefined)?.uuid;
  return {
    eventID: `stream-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: SECONDARY,
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      ...(typeof uuid === 'string' ? { Keys: { uuid: { S: uuid } } } : {}),
      ...(image
        ? {
            NewImage: marshall(image, { removeUndefinedValues: true }) as NonNullable<
              DynamoDBRecord['dynamodb']
            >['NewImage'],
          }
        : {}),
      SequenceNumber: String(sequence).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: `arn:aws:dynamodb:${SECONDARY}:${ACCOUNT}:table/iot-dr-events/stream/2026-01-01T00:00:00.000`,
  };
}

export function streamEvent(records: DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}

/** Creates the failure table of the contract in `client`'s region. */
export async function createFailureTable(client: DynamoDBClient, tableName = FAILURE_TABLE): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'eventId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'eventId', KeyType: 'HASH' }],
    }),
  );
}

/**
 * Stands in for the native `arn:aws:states:::dynamodb:putItem` integration, which
 * aws-local-stepfunctions cannot call: the state's resolved Parameters are exactly the PutItem
 * request, sent to moto. Errors are renamed the way Step Functions names integration errors.
 */
export function dynamodbPutItem(client: DynamoDBClient) {
  return async (parameters: unknown) => {
    try {
      await client.send(new PutItemCommand(parameters as PutItemCommandInput));
      return {};
    } catch (error) {
      const e = error as Error;
      const renamed = new Error(e.message);
      renamed.name = `DynamoDB.${e.name}`;
      throw renamed;
    }
  };
}

export type LocalHandler = (input: any) => Promise<any>;

export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: any;
  readonly error?: string;
  readonly cause?: string;
  /** States entered, in order. */
  readonly states: string[];
  /** Retries per state. */
  readonly retries: Record<string, number>;
}

/**
 * Executes the ASL with aws-local-stepfunctions. Retry waits are shortened to `retryWaitMs`
 * (the real backoff would make a test wait minutes). aws-local-stepfunctions has no `$$.State`
 * in its context object, so the run supplies `State.EnteredTime` (an emulator gap, see docs).
 */
export async function runWorkflow(
  definition: AslDefinition,
  input: unknown,
  handlers: Record<string, LocalHandler>,
  options: { retryWaitMs?: number } = {},
): Promise<RunResult> {
  const machine = new StateMachine(definition as any);
  const retryWait = options.retryWaitMs ?? 5;
  const retryIntervalOverrides = Object.fromEntries(
    [...Object.values(WORKER_STATE), STATE.recordFailure].map((s) => [s, retryWait]),
  );
  const execution = machine.run(input as any, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
    context: { State: { EnteredTime: new Date().toISOString(), RetryCount: 0 } } as any,
  });
  const states: string[] = [];
  const retries: Record<string, number> = {};
  const collect = (async () => {
    for await (const event of execution.eventLogs as AsyncGenerator<any>) {
      if (event.type === 'StateEntered') states.push(event.state.name);
      if (event.type === 'StateRetried') retries[event.state.name] = (retries[event.state.name] ?? 0) + 1;
    }
  })();
  try {
    const output = await execution.result;
    await collect;
    return { status: 'SUCCEEDED', output, states, retries };
  } catch (error) {
    await collect;
    const e = error as Error & { cause?: Error & { cause?: unknown } };
    const inner = e.cause instanceof Error ? e.cause : e;
    return { status: 'FAILED', error: inner.name, cause: inner.message, states, retries };
  }
}
