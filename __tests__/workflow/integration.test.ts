// End to end on moto, two regions: stream records -> the real trigger handler -> StartExecution
// (moto Step Functions) -> the execution's input run through the real ASL (aws-local-stepfunctions)
// with every worker Task resolved to the real worker handler -> the secondary region checked.
import {
  DescribeExecutionCommand,
  CreateStateMachineCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeCertificateCommand,
  ListAttachedPoliciesCommand,
  ListThingPrincipalsCommand,
  ListThingsInThingGroupCommand,
} from '@aws-sdk/client-iot';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { workerLambdaEnv, motoClient, startMoto, type Moto } from '../support/moto';
import {
  addToGroup,
  attachCertificate,
  createCertificate,
  createDevice,
  createGroup,
  createPolicy,
  createThing,
  createThingType,
  describeGroup,
  describeThing,
  describeType,
  hierarchyEvent,
  membershipEvent,
  readShadow,
  shadowEvent,
  thingEvent,
  thingGroupEvent,
  thingTypeEvent,
  twoRegions,
  updateShadow,
} from '../support/fleet';
import { certificateIdFromPem } from '../../functions/lib/replication';
import {
  PRINCIPAL_PENDING_ERROR,
  STATE,
  WORKER_STATE,
  principalRetryPolicy,
  type AslDefinition,
} from '../../stacks/workflow-definition';
import {
  ACCOUNT,
  FAILURE_TABLE,
  PRIMARY,
  SECONDARY,
  TEST_RETRY,
  createFailureTable,
  dynamodbPutItem,
  runWorkflow,
  streamEvent,
  streamRecord,
  testDefinition,
  type LocalHandler,
  type RunResult,
} from './harness';

type Handler = (input: unknown) => Promise<unknown>;

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
let sfn: SFNClient;
let sqs: SQSClient;
let ddb: DynamoDBClient;
let stateMachineArn: string;
let dlqUrl: string;
let trigger: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
const workers: Record<string, Handler> = {};
const saved = { ...process.env };
/** The grace of the stack's default configuration, given to the definition and the workers alike. */
const GRACE_SECONDS = 300;
const definition = testDefinition({ principalGraceSeconds: GRACE_SECONDS });
const principalRetries = principalRetryPolicy(GRACE_SECONDS).maxAttempts;

/** The four worker handlers, loaded fresh (their environment is read at module load). */
function loadWorkers(): Record<string, Handler> {
  const loaded: Record<string, Handler> = {};
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    loaded[WORKER_STATE.thing] = require('../../functions/worker-thing/handler').handler;
    loaded[WORKER_STATE.thingType] = require('../../functions/worker-thing-type/handler').handler;
    loaded[WORKER_STATE.thingGroup] = require('../../functions/worker-thing-group/handler').handler;
    loaded[WORKER_STATE.shadow] = require('../../functions/worker-shadow/handler').handler;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  return loaded;
}

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  sfn = motoClient(SFNClient, moto.endpoint, SECONDARY);
  sqs = motoClient(SQSClient, moto.endpoint, SECONDARY);
  ddb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
  stateMachineArn = (
    await sfn.send(
      new CreateStateMachineCommand({
        name: 'iot-dr-replication',
        definition: JSON.stringify(definition),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/iot-dr-replication`,
        type: 'STANDARD',
      }),
    )
  ).stateMachineArn!;
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'iot-dr-replication-dlq' }))).QueueUrl!;
  await createFailureTable(ddb);

  // The real Lambda modules, configured through their environment as in the stack.
  Object.assign(process.env, {
    ...workerLambdaEnv(moto.endpoint),
    PRINCIPAL_GRACE_SECONDS: String(GRACE_SECONDS),
    STATE_MACHINE_ARN: stateMachineArn,
    WORKFLOW_TYPE: 'STANDARD',
    DLQ_URL: dlqUrl,
  });
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    trigger = require('../../functions/stream-trigger/handler').handler;
  });
  Object.assign(workers, loadWorkers());
});

afterAll(async () => {
  process.env = saved;
  for (const c of [sfn, sqs, ddb]) c?.destroy();
  await moto?.stop();
});

/** Every Task resolved to its real handler; `wrap` can decorate one (fault injection around it). */
const handlers = (
  wrap: Partial<Record<string, (real: Handler) => LocalHandler>> = {},
  real: Record<string, Handler> = workers,
): Record<string, LocalHandler> => ({
  ...Object.fromEntries(
    Object.entries(real).map(([state, worker]) => [
      state,
      wrap[state]?.(worker) ?? ((input: unknown) => worker(input)),
    ]),
  ),
  [STATE.recordFailure]: dynamodbPutItem(ddb),
});

/**
 * Delivers items as one stream batch to the trigger, then runs each started execution (its input
 * as stored by moto Step Functions) through the ASL with the real workers, in batch order.
 */
async function replicate(
  items: ReadonlyArray<{ uuid: string }>,
  wrap: Parameters<typeof handlers>[0] = {},
  options: { definition?: AslDefinition; workers?: Record<string, Handler>; retryWaitMs?: number } = {},
) {
  const response = await trigger(streamEvent(items.map((i) => streamRecord(i))));
  const runs: RunResult[] = [];
  const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }));
  for (const i of items) {
    const execution = (list.executions ?? []).find((e) => e.name === i.uuid);
    if (!execution) continue;
    const { input } = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
    runs.push(
      await runWorkflow(options.definition ?? definition, JSON.parse(input!), handlers(wrap, options.workers), {
        retryWaitMs: options.retryWaitMs,
      }),
    );
  }
  return { response, runs };
}

const failureOf = async (eventId: string) => {
  const got = await ddb.send(
    new GetItemCommand({ TableName: FAILURE_TABLE, Key: { eventId: { S: eventId } }, ConsistentRead: true }),
  );
  return got.Item ? unmarshall(got.Item) : undefined;
};

describe('Replication pipeline: trigger -> Step Functions -> workers (moto, two regions)', () => {
  it('replicates a device (thing with type, attributes, certificate, policy) from a THING_EVENT', async () => {
    // Given a device in the primary
    const { primary, secondary } = env;
    await createThingType(primary, 'sensor');
    await createPolicy(primary, 'device-policy');
    const cert = await createDevice(primary, 'dev-1', {
      type: 'sensor',
      attributes: { site: 'lyon' },
      policy: 'device-policy',
    });
    const type = thingTypeEvent(PRIMARY, 'CREATED', { name: 'sensor' });
    const created = thingEvent(PRIMARY, 'CREATED', { name: 'dev-1', type: 'sensor', attributes: { site: 'lyon' } });
    // When the type and thing events flow through the pipeline
    const { response, runs } = await replicate([type, created]);
    // Then both executions succeeded in two transitions each
    expect(response.batchItemFailures).toEqual([]);
    expect(runs.map((r) => [r.status, r.states.length])).toEqual([
      ['SUCCEEDED', 2],
      ['SUCCEEDED', 2],
    ]);
    // ...and the secondary has the thing, its type, attributes, certificate and policy
    const thing = await describeThing(secondary, 'dev-1');
    expect(thing).toMatchObject({ thingTypeName: 'sensor', attributes: { site: 'lyon' } });
    const principals =
      (await secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'dev-1' }))).principals ?? [];
    expect(principals).toHaveLength(1);
    const certId = certificateIdFromPem(cert.pem);
    const described = await secondary.iot.send(new DescribeCertificateCommand({ certificateId: certId }));
    expect(described.certificateDescription?.status).toBe('ACTIVE');
    const policies = await secondary.iot.send(new ListAttachedPoliciesCommand({ target: principals[0] }));
    expect(policies.policies?.map((p) => p.policyName)).toEqual(['device-policy']);
  });

  it('replicates thing groups, their hierarchy and memberships', async () => {
    const { primary, secondary } = env;
    await createGroup(primary, 'plant', { description: 'Lyon plant' });
    await createGroup(primary, 'line-1', { parent: 'plant', attributes: { floor: '2' } });
    await createThing(primary, 'robot-1');
    await createThing(secondary, 'robot-1'); // the thing itself is replicated by its own event
    await addToGroup(primary, 'line-1', 'robot-1');
    const events = [
      thingGroupEvent(PRIMARY, 'CREATED', { name: 'plant', description: 'Lyon plant' }),
      thingGroupEvent(PRIMARY, 'CREATED', {
        name: 'line-1',
        parent: 'plant',
        rootToParent: ['plant'],
        attributes: { floor: '2' },
      }),
      hierarchyEvent(PRIMARY, 'ADDED', 'plant', 'line-1'),
      membershipEvent(PRIMARY, 'ADDED', 'line-1', 'robot-1'),
    ];
    const { runs } = await replicate(events);
    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect(await describeGroup(secondary, 'line-1')).toMatchObject({
      thingGroupProperties: { attributePayload: { attributes: { floor: '2' } } },
      thingGroupMetadata: { parentGroupName: 'plant' },
    });
    const members = await secondary.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'line-1' }));
    expect(members.things).toEqual(['robot-1']);
  });

  it('replicates a classic shadow update and a named shadow delete', async () => {
    const { primary, secondary } = env;
    await createThing(primary, 'meter-1');
    await createThing(secondary, 'meter-1');
    const accepted = await updateShadow(primary, 'meter-1', '', { reported: { kwh: 42 } });
    await updateShadow(secondary, 'meter-1', 'config', { desired: { rate: 5 } });
    const update = shadowEvent(PRIMARY, 'update', 'meter-1', '', {
      state: { reported: { kwh: 42 } },
      version: accepted.version,
      timestamp: accepted.timestamp,
    });
    const del = shadowEvent(PRIMARY, 'delete', 'meter-1', 'config', { version: 9 });
    const { runs } = await replicate([update, del]);
    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect((await readShadow(secondary, 'meter-1'))?.state).toMatchObject({ reported: { kwh: 42 } });
    expect(await readShadow(secondary, 'meter-1', 'config')).toBeUndefined();
  });

  /** A thing-worker wrapper counting attempts and errors; `attach` attaches a certificate in the primary after one attempt. */
  const watchThingWorker = (
    counter: { attempts: number; errors: string[] },
    attach?: { after: number; thing: string; certArn: string },
  ) => ({
    [WORKER_STATE.thing]: (real: Handler) => async (input: unknown) => {
      counter.attempts += 1;
      try {
        return await real(input);
      } catch (error) {
        counter.errors.push((error as Error).name);
        throw error;
      } finally {
        if (attach && counter.attempts === attach.after)
          await attachCertificate(env.primary, attach.thing, attach.certArn);
      }
    },
  });

  it('waits for a certificate attached after the first attempt (real PrincipalPendingError) and converges', async () => {
    // Given a thing whose certificate is attached only after its event was captured
    const { primary, secondary } = env;
    await createThing(primary, 'late-1');
    const cert = await createCertificate(primary);
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'late-1' });
    const counter = { attempts: 0, errors: [] as string[] };
    // When the real worker runs; the certificate is attached in the primary after its first attempt
    const { runs } = await replicate(
      [event],
      watchThingWorker(counter, { after: 1, thing: 'late-1', certArn: cert.arn }),
    );
    // Then the first attempt asked to wait for the certificate, the retry converged
    expect(runs[0].status).toBe('SUCCEEDED');
    expect(counter).toEqual({ attempts: 2, errors: [PRINCIPAL_PENDING_ERROR] });
    expect(runs[0].retries[WORKER_STATE.thing]).toBe(1);
    expect((await secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'late-1' }))).principals).toHaveLength(
      1,
    );
  });

  it('still converges when the certificate comes after the transient-error budget would have run out', async () => {
    // Given a thing whose certificate is attached after 2 more attempts than the transient rule allows
    const { primary, secondary } = env;
    await createThing(primary, 'late-2');
    const cert = await createCertificate(primary);
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'late-2' });
    const after = TEST_RETRY.maxAttempts + 3;
    expect(after).toBeLessThan(principalRetries);
    const counter = { attempts: 0, errors: [] as string[] };
    // When the real worker runs (the emulator shortens the 20 s waits; the event stays inside its grace)
    const { runs } = await replicate([event], watchThingWorker(counter, { after, thing: 'late-2', certArn: cert.arn }));
    // Then every early attempt waited on the certificate retrier, and the next one converged
    expect(runs[0].status).toBe('SUCCEEDED');
    expect(counter.attempts).toBe(after + 1);
    expect(counter.errors).toEqual(Array(after).fill(PRINCIPAL_PENDING_ERROR));
    expect(runs[0].retries[WORKER_STATE.thing]).toBe(after);
    expect((await secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'late-2' }))).principals).toHaveLength(
      1,
    );
    expect(await failureOf(event.uuid)).toBeUndefined();
  });

  it('replicates a thing that never gets a certificate without one once its (2 s) grace has really passed', async () => {
    // Given workers and a definition built from a 2 s grace (one retry after 2 s), waits not shortened
    const { primary, secondary } = env;
    process.env.PRINCIPAL_GRACE_SECONDS = '2';
    let shortGraceWorkers: Record<string, Handler>;
    try {
      shortGraceWorkers = loadWorkers();
    } finally {
      process.env.PRINCIPAL_GRACE_SECONDS = String(GRACE_SECONDS);
    }
    const shortGrace = testDefinition({ principalGraceSeconds: 2 });
    const retrier = (shortGrace.States[WORKER_STATE.thing] as { Retry: Array<{ IntervalSeconds: number }> }).Retry[0];
    await createThing(primary, 'bare-1');
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'bare-1' });
    const capturedAt = event.timestamp as number;
    // Each attempt's start and end times and outcome. The worker decides between the two (after
    // reading both regions), so an attempt that starts just before the grace ends may rightly copy
    // the thing: the verdicts below use the end. On a loaded machine the first attempt may itself
    // end after the grace: they hold either way, without a wall-clock bound.
    const attempts: Array<{ at: number; end?: number; error?: string }> = [];
    const watch = {
      [WORKER_STATE.thing]: (real: Handler) => async (input: unknown) => {
        const attempt: { at: number; end?: number; error?: string } = { at: Date.now() };
        attempts.push(attempt);
        try {
          return await real(input);
        } catch (error) {
          attempt.error = (error as Error).name;
          throw error;
        } finally {
          attempt.end = Date.now();
        }
      },
    };
    // When the workflow runs with the retrier's real interval
    const { runs } = await replicate([event], watch, {
      definition: shortGrace,
      workers: shortGraceWorkers,
      retryWaitMs: retrier.IntervalSeconds * 1000,
    });
    // Then every attempt inside the grace asked to wait for the certificate, and the one that
    // replicated the thing without a certificate started once the grace had passed
    expect(runs[0].status).toBe('SUCCEEDED');
    const last = attempts[attempts.length - 1];
    expect(last.error).toBeUndefined();
    expect(last.end).toBeGreaterThanOrEqual(capturedAt + 2000);
    for (const early of attempts.slice(0, -1)) expect(early.error).toBe(PRINCIPAL_PENDING_ERROR);
    for (const early of attempts.filter((a) => (a.end as number) < capturedAt + 2000)) expect(early.error).toBe(PRINCIPAL_PENDING_ERROR);
    expect(await describeThing(secondary, 'bare-1')).toBeDefined();
    expect(
      (await secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'bare-1' }))).principals ?? [],
    ).toEqual([]);
    expect(await failureOf(event.uuid)).toBeUndefined();
  });

  it('records a thing still without certificate when the retries end before its grace (shortened waits)', async () => {
    // The emulator shortens the 20 s waits to milliseconds, so the worker's clock stays inside the
    // 300 s grace and the certificate retrier is exhausted: the record path of that retrier.
    const { primary } = env;
    await createThing(primary, 'orphan-1');
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'orphan-1' });
    const { runs } = await replicate([event]);
    expect(runs[0].status).toBe('FAILED');
    expect(runs[0].error).toBe(PRINCIPAL_PENDING_ERROR);
    expect(runs[0].retries[WORKER_STATE.thing]).toBe(principalRetries);
    expect(runs[0].states.slice(-3)).toEqual([STATE.principalWaitExhausted, STATE.recordFailure, STATE.failed]);
    const failure = await failureOf(event.uuid);
    expect(failure).toMatchObject({
      eventId: event.uuid,
      error: PRINCIPAL_PENDING_ERROR,
      attempts: principalRetries + 1,
    });
    expect(failure!.cause).toContain('orphan-1');
    expect(JSON.parse(failure!.event)).toMatchObject({ eventType: 'THING_EVENT', thingName: 'orphan-1' });
  });

  it('records a permanently invalid event after one attempt, and sends an unknown event type to the DLQ', async () => {
    // Given a membership event whose ARNs name no group, and an event type no worker knows
    const broken = { ...membershipEvent(PRIMARY, 'ADDED', 'g', 't'), groupArn: 'not-an-arn' };
    const unknown = { ...thingTypeEvent(PRIMARY, 'CREATED', { name: 'x' }), eventType: 'JOB_EVENT' };
    // When both flow through the pipeline
    const { response, runs } = await replicate([broken, unknown]);
    // Then the broken one ran once and is in the failure table; the unknown one never started
    expect(response.batchItemFailures).toEqual([]);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'FAILED', error: 'InvalidEventError' });
    expect(runs[0].retries).toEqual({});
    expect(await failureOf(broken.uuid)).toMatchObject({ error: 'InvalidEventError', attempts: 1 });
    const dlq = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
    );
    expect(dlq.Messages?.map((m) => m.MessageAttributes?.eventId?.StringValue)).toEqual([unknown.uuid]);
  });

  it('replicates a thing type from a THING_TYPE_EVENT with its properties', async () => {
    const { primary, secondary } = env;
    await createThingType(primary, 'gateway', { description: 'edge gateways', searchableAttributes: ['site'] });
    const { runs } = await replicate([
      thingTypeEvent(PRIMARY, 'CREATED', {
        name: 'gateway',
        description: 'edge gateways',
        searchableAttributes: ['site'],
      }),
    ]);
    expect(runs[0].status).toBe('SUCCEEDED');
    expect(await describeType(secondary, 'gateway')).toMatchObject({
      thingTypeProperties: { thingTypeDescription: 'edge gateways', searchableAttributes: ['site'] },
    });
  });
});
