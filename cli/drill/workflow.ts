/**
 * The replication workflow's ASL run locally: aws-local-stepfunctions with every Task resolved to
 * a local handler (handlers under test in the tests), and the failure table of the contract on
 * moto. `iot-dr drill` uses the failure table and the PutItem stand-in (through its pipeline,
 * cli/drill/pipeline.ts, and the local Step Functions endpoint, cli/drill/local-sfn.ts); the
 * single-execution runner (`localWorkflow`, `runWorkflow`) serves the tests, re-exported by
 * __tests__/workflow/harness.ts.
 */
import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { StateMachine } from 'aws-local-stepfunctions';
import { type AslDefinition, STATE, WORKER_STATE } from '../../stacks/workflow-definition';

/** Creates the failure table of the contract (hash key `eventId`, S) in `client`'s region. */
export async function createFailureTable(client: DynamoDBClient, tableName: string): Promise<void> {
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
 * The ASL, ready to run executions with aws-local-stepfunctions (the definition is validated
 * once). Retry waits are shortened to `retryWaitMs` (the real backoff would take minutes).
 * aws-local-stepfunctions has no `$$.State` in its context object, so each run supplies
 * `State.EnteredTime` (an emulator gap, see docs/workflow.md).
 */
export function localWorkflow(
  definition: AslDefinition,
  handlers: Record<string, LocalHandler>,
  options: { retryWaitMs?: number } = {},
): (input: unknown) => Promise<RunResult> {
  const machine = new StateMachine(definition as any);
  const retryWait = options.retryWaitMs ?? 5;
  const retryIntervalOverrides = Object.fromEntries(
    [...Object.values(WORKER_STATE), STATE.recordFailure].map((s) => [s, retryWait]),
  );
  return async (input) => {
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
  };
}

/** One execution of `definition` (see {@link localWorkflow}). */
export function runWorkflow(
  definition: AslDefinition,
  input: unknown,
  handlers: Record<string, LocalHandler>,
  options: { retryWaitMs?: number } = {},
): Promise<RunResult> {
  return localWorkflow(definition, handlers, options)(input);
}
