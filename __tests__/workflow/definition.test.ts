// The workflow ASL on its own: schema-valid, routes every event type, retries transient errors with
// capped jittered backoff, records every failure in the failure table (moto DynamoDB) and fails.
// Workers here are small local stand-ins (the integration test runs the real ones).
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import aslValidator from 'asl-validator';
import { startMoto, motoClient, type Moto } from '../support/moto';
import { PrincipalPendingError, RetryableError } from '../../functions/lib/errors';
import {
  DEFAULT_PRINCIPAL_GRACE_SECONDS,
  PRINCIPAL_PENDING_ERROR,
  STATE,
  TRANSIENT_ERRORS,
  UNKNOWN_EVENT_ERROR,
  WORKER_FOR_EVENT_TYPE,
  WORKER_STATE,
  principalRetryPolicy,
  workflowDefinition,
  worstCaseExecutionSeconds,
  worstCasePrincipalWaitSeconds,
  worstCaseTaskSeconds,
  type WorkerFamily,
} from '../../stacks/workflow-definition';
import {
  FAILURE_TABLE,
  SECONDARY,
  TEST_RETRY,
  createFailureTable,
  dynamodbPutItem,
  item,
  runWorkflow,
  testDefinition,
  type LocalHandler,
} from './harness';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('Workflow definition: shape', () => {
  it('is valid Amazon States Language (asl-validator)', () => {
    // Given the definition with realistic ARNs
    const definition = testDefinition();
    // When validated
    const { isValid, errorsText } = aslValidator(definition);
    // Then there is no error
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
  });

  it('retries every worker task on the transient errors with backoff 2, full jitter and a delay cap, and catches everything', () => {
    const definition = testDefinition();
    for (const state of Object.values(WORKER_STATE)) {
      const task = definition.States[state] as any;
      expect(task.Type).toBe('Task');
      expect(task.Retry.slice(1)).toEqual([
        {
          ErrorEquals: [...TRANSIENT_ERRORS],
          IntervalSeconds: TEST_RETRY.intervalSeconds,
          BackoffRate: 2,
          MaxAttempts: TEST_RETRY.maxAttempts,
          MaxDelaySeconds: TEST_RETRY.maxDelaySeconds,
          JitterStrategy: 'FULL',
        },
      ]);
      expect(task.Catch.map((c: any) => [c.ErrorEquals, c.Next])).toEqual([
        [[PRINCIPAL_PENDING_ERROR], STATE.principalWaitExhausted],
        [[...TRANSIENT_ERRORS], STATE.retriesExhausted],
        [['States.ALL'], STATE.permanentError],
      ]);
      expect(task.Parameters).toEqual({ 'eventId.$': '$.eventId', 'event.$': '$.event' });
    }
    // Every Task state (the failure recorder included) has a Catch: no execution ends silently.
    const tasks = Object.values(definition.States).filter((s: any) => s.Type === 'Task');
    expect(tasks).toHaveLength(5);
    for (const t of tasks) expect((t as any).Catch?.length).toBeGreaterThan(0);
  });

  it('retries PrincipalPendingError first, alone, on a steady 20 s interval whose waits cover the default grace', () => {
    // Given the default definition (grace 300 s, as replication.principalGraceSeconds defaults to)
    const definition = testDefinition();
    for (const state of Object.values(WORKER_STATE)) {
      const first = (definition.States[state] as any).Retry[0];
      // Then the first retrier (Step Functions uses the first that names the error) matches only
      // the certificate wait, which the generic rule does not name
      expect(first).toEqual({
        ErrorEquals: [PRINCIPAL_PENDING_ERROR],
        IntervalSeconds: 20,
        BackoffRate: 1,
        MaxAttempts: 15,
        JitterStrategy: 'NONE',
      });
      expect(first.MaxAttempts * first.IntervalSeconds).toBeGreaterThanOrEqual(DEFAULT_PRINCIPAL_GRACE_SECONDS);
    }
    expect(TRANSIENT_ERRORS).not.toContain(PRINCIPAL_PENDING_ERROR);
    // ...while the generic budget alone (2+4+8+16+32+60 = 122 s of waits) would not
    expect(worstCaseTaskSeconds({ maxAttempts: 6, intervalSeconds: 2, maxDelaySeconds: 60 }, 0)).toBeLessThan(300);
  });

  it.each([0, 1, 7, 19, 20, 21, 45, 90, 299, 301, 1000, 3600])(
    'sizes the PrincipalPendingError retrier for a grace of %i s: the fewest steady waits that cover it',
    (grace) => {
      const retrier = (testDefinition({ principalGraceSeconds: grace }).States[WORKER_STATE.thing] as any).Retry[0];
      expect(retrier).toMatchObject({ ErrorEquals: [PRINCIPAL_PENDING_ERROR], BackoffRate: 1, JitterStrategy: 'NONE' });
      const { MaxAttempts: attempts, IntervalSeconds: interval } = retrier;
      expect(Number.isInteger(attempts)).toBe(true);
      // 20 s apart, or the grace itself when shorter (1 s at least, the ASL minimum)
      expect(interval).toBe(grace === 0 ? 1 : Math.min(20, grace));
      expect(principalRetryPolicy(grace)).toEqual({ maxAttempts: attempts, intervalSeconds: interval });
      // covers the grace...
      expect(attempts * interval).toBeGreaterThanOrEqual(grace);
      // ...with no retry to spare (grace / interval, rounded up)
      expect(attempts).toBe(Math.ceil(grace / interval));
      // and the document stays valid ASL (MaxAttempts 0 included)
      expect(aslValidator(testDefinition({ principalGraceSeconds: grace })).isValid).toBe(true);
    },
  );

  it.each([-1, 3601, 2.5, Number.NaN])('throws on a principal grace of %p, naming the field and the rule', (grace) => {
    expect(() => testDefinition({ principalGraceSeconds: grace })).toThrow(
      `principalGraceSeconds must be a whole number from 0 to 3600 (got ${grace})`,
    );
  });

  it('counts the PrincipalPendingError retrier in the worst case of an execution', () => {
    const retry = { maxAttempts: 3, intervalSeconds: 2, maxDelaySeconds: 10 };
    // transient: waits 2+4+8, 4 attempts of 30 s; principal wait (40 s): 2 x (20 s + 30 s); recorder: 1+2+4 + 4 x 10
    expect(worstCasePrincipalWaitSeconds(40, 30)).toBe(2 * (20 + 30));
    expect(worstCaseExecutionSeconds(retry, 30, 40)).toBe(14 + 4 * 30 + 100 + 7 + 40);
    expect(worstCaseExecutionSeconds(retry, 30, 0)).toBe(14 + 4 * 30 + 7 + 40);
    expect(worstCaseExecutionSeconds(retry, 30, 60)).toBeGreaterThan(300);
  });

  it('PrincipalPendingError is a RetryableError whose name (the Step Functions error name) is the retried one', () => {
    const error = new PrincipalPendingError('thing t has no principal in the primary yet');
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.name).toBe(PRINCIPAL_PENDING_ERROR);
  });

  it('throws when the delay cap is below the first interval', () => {
    expect(() => testDefinition({ retry: { maxAttempts: 2, intervalSeconds: 10, maxDelaySeconds: 5 } })).toThrow(
      'retry.maxDelaySeconds (5) must be at least retry.intervalSeconds (10)',
    );
  });

  it('bounds the worst case of one worker state', () => {
    // waits 2+4+8+16+32+60 = 122 s, plus 7 attempts of at most 70 s
    expect(worstCaseTaskSeconds({ maxAttempts: 6, intervalSeconds: 2, maxDelaySeconds: 60 }, 70)).toBe(122 + 7 * 70);
  });
});

describe('Workflow definition: executed (aws-local-stepfunctions, failure table on moto)', () => {
  let moto: Moto;
  let ddb: DynamoDBClient;

  beforeAll(async () => {
    moto = await startMoto();
    ddb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
    await createFailureTable(ddb);
  });
  afterAll(async () => {
    ddb?.destroy();
    await moto?.stop();
  });

  const failureRecord = async (eventId: string) => {
    const got = await ddb.send(
      new GetItemCommand({ TableName: FAILURE_TABLE, Key: { eventId: { S: eventId } }, ConsistentRead: true }),
    );
    return got.Item ? unmarshall(got.Item) : undefined;
  };

  /** Stand-in workers that record which family received which input. */
  const recordingWorkers = () => {
    const calls: Array<{ family: WorkerFamily; input: any }> = [];
    const handlers: Record<string, LocalHandler> = {};
    for (const [family, state] of Object.entries(WORKER_STATE) as Array<[WorkerFamily, string]>) {
      handlers[state] = async (input) => {
        calls.push({ family, input });
        return { outcomes: [{ kind: family, name: 'x', action: 'unchanged' }] };
      };
    }
    handlers[STATE.recordFailure] = dynamodbPutItem(ddb);
    return { calls, handlers };
  };

  it.each(Object.entries(WORKER_FOR_EVENT_TYPE).filter(([t]) => t !== 'SHADOW_EVENT'))(
    'routes %s to the %s worker in two state transitions',
    async (eventType, family) => {
      // Given an event of that type
      const { calls, handlers } = recordingWorkers();
      const event = item({ eventType, operation: 'CREATED', thingName: 't1' });
      // When the workflow runs
      const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
      // Then exactly its worker received exactly { eventId, event }
      expect(run.status).toBe('SUCCEEDED');
      expect(calls).toEqual([{ family, input: { eventId: event.uuid, event } }]);
      expect(run.states).toEqual([STATE.route, WORKER_STATE[family as WorkerFamily]]);
      expect(run.output.result.outcomes).toHaveLength(1);
    },
  );

  it.each([
    ['update', ''],
    ['delete', 'config'],
  ])('routes a shadow %s (shadowName "%s") to the shadow worker', async (operation, shadowName) => {
    const { calls, handlers } = recordingWorkers();
    const event = item({
      eventType: 'SHADOW_EVENT',
      operation,
      thingName: 't1',
      shadowName,
      state: { reported: { a: 1 } },
      version: 3,
    });
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    expect(run.status).toBe('SUCCEEDED');
    expect(calls.map((c) => c.family)).toEqual(['shadow']);
  });

  it.each([
    ['an unknown eventType', { eventType: 'JOB_EVENT', operation: 'CREATED' }],
    ['a missing eventType', { operation: 'CREATED' }],
    ['a shadow event with an unknown operation', { eventType: 'SHADOW_EVENT', operation: 'get', thingName: 't' }],
    ['a shadow event without operation', { eventType: 'SHADOW_EVENT', thingName: 't' }],
  ])('records %s in the failure table and fails the execution', async (_label, fields) => {
    // Given an event no worker handles
    const { calls, handlers } = recordingWorkers();
    const event = item(fields);
    // When the workflow runs
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    // Then no worker ran, the failure is recorded with the event, and the execution failed
    expect(calls).toEqual([]);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(UNKNOWN_EVENT_ERROR);
    const record = await failureRecord(event.uuid as string);
    expect(record).toMatchObject({ eventId: event.uuid, error: UNKNOWN_EVENT_ERROR, attempts: 0 });
    expect(JSON.parse(record!.event)).toEqual(event);
  });

  it('retries a worker that throws RetryableError, then succeeds', async () => {
    // Given a worker failing twice with RetryableError and a Lambda throttle, then succeeding
    const { handlers } = recordingWorkers();
    const failures = ['RetryableError', 'Lambda.TooManyRequestsException'];
    let invocations = 0;
    handlers[WORKER_STATE.thing] = async () => {
      invocations += 1;
      const next = failures.shift();
      if (next) throw named(next, `transient ${invocations}`);
      return { outcomes: [{ kind: 'thing', name: 't1', action: 'created' }] };
    };
    const event = item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 't1' });
    // When the workflow runs
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    // Then it succeeded on the third attempt without touching the failure table
    expect(run.status).toBe('SUCCEEDED');
    expect(invocations).toBe(3);
    expect(run.retries[WORKER_STATE.thing]).toBe(2);
    expect(await failureRecord(event.uuid as string)).toBeUndefined();
  });

  it('stops retrying after MaxAttempts and records the failure with the attempt count', async () => {
    // Given a worker that is always throttled
    const { handlers } = recordingWorkers();
    let invocations = 0;
    handlers[WORKER_STATE.thingGroup] = async () => {
      invocations += 1;
      throw named('RetryableError', 'ThrottlingException: Rate exceeded');
    };
    const event = item({ eventType: 'THING_GROUP_EVENT', operation: 'UPDATED', thingGroupName: 'g' });
    // When the workflow runs
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    // Then it tried 1 + MaxAttempts times, recorded it, and failed visibly
    expect(invocations).toBe(TEST_RETRY.maxAttempts + 1);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('RetryableError');
    expect(run.states.slice(-3)).toEqual([STATE.retriesExhausted, STATE.recordFailure, STATE.failed]);
    const record = await failureRecord(event.uuid as string);
    expect(record).toMatchObject({
      error: 'RetryableError',
      cause: 'ThrottlingException: Rate exceeded',
      attempts: TEST_RETRY.maxAttempts + 1,
    });
    // The failure outlives the event item by the retention (14 days), and says when it failed.
    expect(record!.expires).toBe((event.expires as number) + 14 * 86400);
    expect(Date.parse(record!.failedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps retrying PrincipalPendingError past the transient budget, then succeeds', async () => {
    // Given a worker that finds no certificate 8 times (the transient rule allows only 3 retries), then one
    const { handlers } = recordingWorkers();
    let invocations = 0;
    handlers[WORKER_STATE.thing] = async () => {
      invocations += 1;
      if (invocations <= 8)
        throw new PrincipalPendingError(`thing t1 has no principal in the primary yet (${invocations})`);
      return { outcomes: [{ kind: 'thing', name: 't1', action: 'created' }] };
    };
    const event = item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 't1' });
    // When the workflow runs (default grace: 15 retries)
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    // Then the ninth attempt succeeded and nothing was recorded
    expect(8).toBeGreaterThan(TEST_RETRY.maxAttempts);
    expect(run.status).toBe('SUCCEEDED');
    expect(invocations).toBe(9);
    expect(run.retries[WORKER_STATE.thing]).toBe(8);
    expect(await failureRecord(event.uuid as string)).toBeUndefined();
  });

  it('counts the certificate wait and the transient errors separately (one retrier each)', async () => {
    // Given a worker alternating "no certificate yet" with throttling, up to the transient budget
    const { handlers } = recordingWorkers();
    const failures = [
      PRINCIPAL_PENDING_ERROR,
      'RetryableError',
      PRINCIPAL_PENDING_ERROR,
      'RetryableError',
      PRINCIPAL_PENDING_ERROR,
      'Lambda.TooManyRequestsException',
      PRINCIPAL_PENDING_ERROR,
    ];
    expect(failures.filter((f) => f !== PRINCIPAL_PENDING_ERROR)).toHaveLength(TEST_RETRY.maxAttempts);
    let invocations = 0;
    handlers[WORKER_STATE.thing] = async () => {
      invocations += 1;
      const next = failures.shift();
      if (next) throw named(next, `attempt ${invocations}`);
      return { outcomes: [{ kind: 'thing', name: 't1', action: 'created' }] };
    };
    const event = item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 't1' });
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    // Then the 7 retries (4 waits + 3 transient) did not exhaust either retrier
    expect(run.status).toBe('SUCCEEDED');
    expect(invocations).toBe(8);
  });

  it('records a thing still without certificate once the whole wait is exhausted', async () => {
    // Given a 40 s grace (2 retries 20 s apart) and a worker that never finds the certificate
    // (the emulator shortens the waits, so the worker's clock never sees the grace pass)
    const { handlers } = recordingWorkers();
    let invocations = 0;
    handlers[WORKER_STATE.thing] = async () => {
      invocations += 1;
      throw new PrincipalPendingError('thing t1 has no principal in the primary yet (event 0 s old, grace 40 s)');
    };
    const event = item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 't1' });
    const run = await runWorkflow(
      testDefinition({ principalGraceSeconds: 40 }),
      { eventId: event.uuid, event },
      handlers,
    );
    // Then it ran 1 + 2 times and took the retries-exhausted path with its own attempt count
    expect(invocations).toBe(3);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(PRINCIPAL_PENDING_ERROR);
    expect(run.states.slice(-3)).toEqual([STATE.principalWaitExhausted, STATE.recordFailure, STATE.failed]);
    expect(await failureRecord(event.uuid as string)).toMatchObject({ error: PRINCIPAL_PENDING_ERROR, attempts: 3 });
  });

  it('does not retry a permanent error and records it after one attempt', async () => {
    const { handlers } = recordingWorkers();
    let invocations = 0;
    handlers[WORKER_STATE.thingType] = async () => {
      invocations += 1;
      throw named('InvalidEventError', 'invalid event: "thingTypeName" must be a non-empty string');
    };
    const event = item({ eventType: 'THING_TYPE_EVENT', operation: 'CREATED' });
    const run = await runWorkflow(testDefinition(), { eventId: event.uuid, event }, handlers);
    expect(invocations).toBe(1);
    expect(run.status).toBe('FAILED');
    expect(run.states.slice(-3)).toEqual([STATE.permanentError, STATE.recordFailure, STATE.failed]);
    expect(await failureRecord(event.uuid as string)).toMatchObject({ error: 'InvalidEventError', attempts: 1 });
  });

  it('fails as FailureNotRecorded when even the failure table rejects the record', async () => {
    // Given a definition whose failure table does not exist
    const { handlers } = recordingWorkers();
    handlers[WORKER_STATE.shadow] = async () => {
      throw named('ReplicationError', 'AccessDenied');
    };
    const event = item({ eventType: 'SHADOW_EVENT', operation: 'update', thingName: 't', shadowName: '' });
    const definition = testDefinition({ failureTableName: 'no-such-table' });
    // When the workflow runs
    const run = await runWorkflow(definition, { eventId: event.uuid, event }, handlers);
    // Then the recorder retried (bounded) and the execution failed with a distinct error
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('FailureNotRecorded');
    expect(run.retries[STATE.recordFailure]).toBe(3);
  });

  it('builds the same document for the same input (deterministic synth)', () => {
    const props = {
      workers: { thing: 'a', thingType: 'b', thingGroup: 'c', shadow: 'd' },
      failureTableName: 'f',
      failureRetentionDays: 1,
      retry: TEST_RETRY,
      taskTimeoutSeconds: 10,
    };
    expect(JSON.stringify(workflowDefinition(props))).toBe(JSON.stringify(workflowDefinition(props)));
  });
});
