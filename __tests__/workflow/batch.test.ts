// EXPRESS (the default) end to end on moto: stream records -> the real trigger handler ->
// StartSyncExecution on the local Step Functions endpoint (cli/drill/local-sfn.ts: the real batch
// ASL run by aws-local-stepfunctions, every worker Task the real worker handler, the slow lane the
// real per-event ASL) -> the secondary region checked. moto has no StartSyncExecution and runs no
// executions, hence the local endpoint; it forwards the trigger's SQS calls to moto.
import { ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import type { StartSyncExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { startLocalStepFunctions, type LocalStepFunctions } from '../../cli/drill/local-sfn';
import { batchWorkflowDefinition, type WorkerFamily, workflowDefinition } from '../../stacks/workflow-definition';
import {
  addToGroup,
  attachCertificate,
  attachPolicy,
  createCertificate,
  createDevice,
  createGroup,
  createPolicy,
  createThing,
  describeThing,
  membershipEvent,
  readShadow,
  shadowEvent,
  thingEvent,
  twoRegions,
  updateShadow,
} from '../support/fleet';
import { motoClient, startMoto, workerLambdaEnv, type Moto } from '../support/moto';
import {
  ACCOUNT,
  FAILURE_TABLE,
  FAKE_WORKERS,
  PRIMARY,
  SECONDARY,
  TEST_RETRY,
  createFailureTable,
  streamEvent,
  streamRecord,
} from './harness';

type Handler = (input: any) => Promise<any>;
const ARN = (n: string) => `arn:aws:states:${SECONDARY}:${ACCOUNT}:stateMachine:${n}`;
const BATCH = ARN('iot-dr-replication');
const SLOW = ARN('iot-dr-replication-slow-lane');
/** A short grace: a thing created without its certificate waits seconds, not minutes. */
const GRACE_SECONDS = 2;

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
let sqs: SQSClient;
let ddb: DynamoDBClient;
let local: LocalStepFunctions;
let dlqUrl: string;
let trigger: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
let triggerSfn: { SFNClient: typeof SFNClient; StartSyncExecutionCommand: typeof StartSyncExecutionCommand };
/** Writes the workers made in the secondary (outcomes other than unchanged/skipped), per event id. */
const writes = new Map<string, number>();
const saved = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  sqs = motoClient(SQSClient, moto.endpoint, SECONDARY);
  ddb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'iot-dr-replication-dlq' }))).QueueUrl!;
  await createFailureTable(ddb);

  Object.assign(process.env, workerLambdaEnv(moto.endpoint), { PRINCIPAL_GRACE_SECONDS: String(GRACE_SECONDS) });
  const real: Record<WorkerFamily, Handler> = {} as never;
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    real.thing = require('../../functions/worker-thing/handler').handler;
    real.thingType = require('../../functions/worker-thing-type/handler').handler;
    real.thingGroup = require('../../functions/worker-thing-group/handler').handler;
    real.shadow = require('../../functions/worker-shadow/handler').handler;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  const counted =
    (h: Handler): Handler =>
    async (input) => {
      const out = await h(input);
      const n = (out.outcomes as Array<{ action: string }>).filter(
        (o) => o.action !== 'unchanged' && o.action !== 'skipped',
      ).length;
      writes.set(input.eventId, (writes.get(input.eventId) ?? 0) + n);
      return out;
    };
  const props = {
    workers: FAKE_WORKERS,
    failureTableName: FAILURE_TABLE,
    failureRetentionDays: 14,
    retry: TEST_RETRY,
    taskTimeoutSeconds: 30,
    principalGraceSeconds: GRACE_SECONDS,
  };
  local = await startLocalStepFunctions({
    machines: [
      { arn: BATCH, type: 'EXPRESS', definition: batchWorkflowDefinition({ ...props, slowLaneArn: SLOW }) },
      // The slow lane's certificate wait is real (the grace must pass); its other waits short.
      { arn: SLOW, type: 'STANDARD', definition: workflowDefinition(props), retryWaitMs: [GRACE_SECONDS * 1000, 5] },
    ],
    workers: {
      thing: counted(real.thing),
      thingType: counted(real.thingType),
      thingGroup: counted(real.thingGroup),
      shadow: counted(real.shadow),
    },
    dynamodb: ddb,
    forwardTo: moto.endpoint,
  });
  Object.assign(process.env, {
    STATE_MACHINE_ARN: BATCH,
    WORKFLOW_TYPE: 'EXPRESS',
    DLQ_URL: dlqUrl,
    TARGET_REGION: SECONDARY,
    IOT_DR_AWS_ENDPOINT: local.endpoint,
  });
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    trigger = require('../../functions/stream-trigger/handler').handler;
    // The SDK module instance the isolated handler uses (to mock it below).
    triggerSfn = require('@aws-sdk/client-sfn');
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
});

afterAll(async () => {
  process.env = saved;
  await local?.stop();
  for (const c of [sqs, ddb]) c?.destroy();
  await moto?.stop();
});

async function failureRow(eventId: string) {
  return (await ddb.send(new GetItemCommand({ TableName: FAILURE_TABLE, Key: { eventId: { S: eventId } } }))).Item;
}

describe('EXPRESS: one synchronous batch execution per stream batch', () => {
  it('Given a mixed batch, When the trigger runs it, Then every event is applied, recorded or sent to the DLQ in one execution, and nothing is returned for retry; a replay of the batch writes nothing', async () => {
    await createPolicy(env.primary, 'b-policy');
    await createDevice(env.primary, 'b-dev', { attributes: { a: '1' }, policy: 'b-policy' });
    await createGroup(env.primary, 'b-group');
    await addToGroup(env.primary, 'b-group', 'b-dev');
    const v1 = await updateShadow(env.primary, 'b-dev', '', { reported: { n: 1 } });
    const v2 = await updateShadow(env.primary, 'b-dev', '', { reported: { n: 2 } });
    const items = [
      thingEvent(PRIMARY, 'CREATED', { name: 'b-dev', attributes: { a: '1' }, timestamp: Date.now() - 3_600_000 }),
      // Both shadow updates in one batch, run at once: the version guard leaves the newest.
      shadowEvent(PRIMARY, 'update', 'b-dev', '', { state: v2.state, version: v2.version }),
      shadowEvent(PRIMARY, 'update', 'b-dev', '', { state: v1.state, version: v1.version }),
      membershipEvent(PRIMARY, 'ADDED', 'b-group', 'b-dev'),
      // Permanent: no thingArn -> InvalidEventError -> failure table, the batch goes on.
      { ...membershipEvent(PRIMARY, 'ADDED', 'b-group', 'x'), thingArn: undefined },
    ];
    const records = [
      ...items.map((i) => streamRecord(i)),
      streamRecord(undefined),
      streamRecord({ ...items[0], uuid: 'own', originRegion: SECONDARY }),
    ];
    const before = local.stats[BATCH].executions;

    expect(await trigger(streamEvent(records))).toEqual({ batchItemFailures: [] });
    await local.drain();

    expect(local.stats[BATCH].executions - before).toBe(1);
    expect(await describeThing(env.secondary, 'b-dev')).toMatchObject({ attributes: { a: '1' } });
    expect((await readShadow(env.secondary, 'b-dev'))?.state).toEqual({ reported: { n: 2 } });
    expect(await failureRow(items[4].uuid as string)).toMatchObject({
      error: { S: 'InvalidEventError' },
      attempts: { N: '1' },
    });
    const dlq = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
    );
    expect(dlq.Messages?.map((m) => JSON.parse(m.Body!).reason)).toEqual([
      expect.stringContaining('NewImage is missing'),
    ]);

    // Lambda redelivers the same records (a retry, a replay from TRIM_HORIZON): nothing is written twice.
    const firstWrites = [...writes.values()].reduce((a, b) => a + b, 0);
    expect(firstWrites).toBeGreaterThan(0);
    writes.clear();
    expect(await trigger(streamEvent(records.slice(0, 4)))).toEqual({ batchItemFailures: [] });
    expect([...writes.values()].reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('Given a thing created before its certificate, When its batch runs, Then the batch hands it to the slow lane (started once even when the batch is replayed), which waits for the certificate and replicates it with it', async () => {
    await createThing(env.primary, 'late-cert');
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'late-cert', timestamp: Date.now() });
    const record = streamRecord(event);
    const slowBefore = local.stats[SLOW].executions;

    expect(await trigger(streamEvent([record]))).toEqual({ batchItemFailures: [] });
    // Replayed while the slow lane waits: same name and input, no second execution.
    expect(await trigger(streamEvent([record]))).toEqual({ batchItemFailures: [] });
    const cert = await createCertificate(env.primary);
    await attachPolicy(env.primary, 'b-policy', cert.arn);
    await attachCertificate(env.primary, 'late-cert', cert.arn);
    await local.drain();

    expect(local.stats[SLOW].executions - slowBefore).toBe(1);
    const principals = await env.secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'late-cert' }));
    expect(principals.principals).toHaveLength(1);
    expect(await failureRow(event.uuid)).toBeUndefined();
  });

  it('Given the failure table is unreachable, When an event fails, Then it is neither applied nor recorded and its record alone is returned for retry (then the DLQ): never silent', async () => {
    await ddb.send(new DeleteTableCommand({ TableName: FAILURE_TABLE }));
    try {
      const good = streamRecord(
        thingEvent(PRIMARY, 'CREATED', { name: 'b-dev', attributes: { a: '1' }, timestamp: Date.now() - 3_600_000 }),
      );
      const bad = streamRecord({ ...membershipEvent(PRIMARY, 'ADDED', 'b-group', 'y'), thingArn: undefined });
      expect(await trigger(streamEvent([good, bad]))).toEqual({
        batchItemFailures: [{ itemIdentifier: bad.dynamodb!.SequenceNumber }],
      });
    } finally {
      await createFailureTable(ddb);
    }
  });

  it('Given a batch execution that ends TIMED_OUT (Express stopped it at 5 minutes, before any Catch), Then every record of it is returned for retry', async () => {
    // aws-sdk-client-mock: the emulator cannot make an execution run for 5 minutes.
    const sfnMock = mockClient(triggerSfn.SFNClient);
    try {
      sfnMock
        .on(triggerSfn.StartSyncExecutionCommand)
        .resolves({ status: 'TIMED_OUT', executionArn: 'arn:x', startDate: new Date(), stopDate: new Date() });
      const records = [1, 2].map((n) =>
        streamRecord(shadowEvent(PRIMARY, 'update', 'b-dev', '', { state: { reported: { n } }, version: 99 + n })),
      );
      const result = await trigger(streamEvent(records));
      expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
        records.map((r) => r.dynamodb!.SequenceNumber),
      );
      sfnMock
        .on(triggerSfn.StartSyncExecutionCommand)
        .rejects(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }));
      expect((await trigger(streamEvent(records))).batchItemFailures).toHaveLength(2);
    } finally {
      sfnMock.restore();
    }
  });
});
