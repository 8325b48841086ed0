// `iot-dr drill`'s replication pipeline (cli/drill/pipeline.ts) on moto: one direction set up as
// the stack deploys it, fed stream batches as the event source mapping would. What the drill test
// cannot show: several batches, a record the trigger rejects, and Lambda's bounded retry of
// returned records ending in the DLQ.
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type ReplicationPipeline, pipelineSettings, startPipeline } from '../../cli/drill/pipeline';
import { createFailureTable } from '../../cli/drill/workflow';
import { parseConfig } from '../../config/load';
import {
  createDevice,
  createPolicy,
  describeThing,
  membershipEvent,
  PRIMARY,
  SECONDARY,
  thingEvent,
  twoRegions,
} from '../support/fleet';
import { type Moto, motoClient, startMoto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
const pipelines: ReplicationPipeline[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  await createPolicy(env.primary, 'pl-policy');
  for (const name of ['pl-1', 'pl-2', 'pl-3'])
    await createDevice(env.primary, name, { attributes: { n: name }, policy: 'pl-policy' });
}, 60_000);

afterAll(async () => {
  for (const p of pipelines) await p.stop();
  process.env = saved;
  await moto?.stop();
});

/** The primary -> secondary direction of the default configuration (EXPRESS), resources named after `prefix`. */
async function pipeline(prefix: string): Promise<ReplicationPipeline> {
  const p = await startPipeline({
    target: 'secondary',
    primaryRegion: PRIMARY,
    secondaryRegion: SECONDARY,
    namePrefix: prefix,
    settings: pipelineSettings(parseConfig({}).replication),
    motoEndpoint: moto.endpoint,
    retryWaitMs: 5,
  });
  pipelines.push(p);
  return p;
}

const created = (name: string) =>
  thingEvent(PRIMARY, 'CREATED', { name, attributes: { n: name }, timestamp: Date.now() - 60_000 });

describe('drill pipeline (one direction, deployed shape)', () => {
  it('Given 4 records and batchSize 2, When delivered, Then each stream batch is one Express execution, the malformed record goes to the DLQ, and the things are replicated', async () => {
    const p = await pipeline('pl-a');
    // An item without originRegion: the trigger rejects it to the DLQ with the reason.
    const { originRegion: _dropped, ...malformed } = created('pl-x');

    const run = await p.run([created('pl-1'), created('pl-2'), created('pl-3'), malformed], {
      batchSize: 2,
      maximumRetryAttempts: 3,
    });

    expect(run).toMatchObject({
      workflowType: 'EXPRESS',
      events: 4,
      batches: 2,
      retries: 0,
      discarded: 0,
      executions: { express: 2, slowLane: 0, standard: 0 },
      succeeded: 2,
      failed: 0,
      failuresRecorded: 0,
      dlq: 1,
      shape: 'EXPRESS batch (2 execution(s) for 4 event(s)) + slow lane 0',
    });
    for (const name of ['pl-1', 'pl-2', 'pl-3'])
      expect(await describeThing(env.secondary, name)).toMatchObject({ attributes: { n: name } });
  });

  it('Given an event that can be neither applied nor recorded (failure table gone), When delivered, Then Lambda re-delivers from that record on maximumRetryAttempts times, then sends the batch coordinates to the DLQ', async () => {
    const p = await pipeline('pl-b');
    const ddb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
    const sqs = motoClient(SQSClient, moto.endpoint, SECONDARY);
    await ddb.send(new DeleteTableCommand({ TableName: p.failureTableName }));
    try {
      // Permanent: no thingArn -> InvalidEventError -> RecordFailure, which fails -> `unrecorded`.
      const bad = { ...membershipEvent(PRIMARY, 'ADDED', 'pl-group', 'pl-1'), thingArn: undefined };
      const before = p.sfn.stats[p.machineArn].executions;

      const delivery = await p.deliver([created('pl-1'), bad, created('pl-2')], {
        batchSize: 3,
        maximumRetryAttempts: 2,
      });

      // The first invocation, then 2 retries of [bad, pl-2]; then the DLQ
      expect(delivery).toEqual({ batches: 1, retries: 2, discarded: 2 });
      expect(p.sfn.stats[p.machineArn].executions - before).toBe(3);
      const messages =
        (await sqs.send(new ReceiveMessageCommand({ QueueUrl: p.dlqUrl, MaxNumberOfMessages: 10 }))).Messages ?? [];
      expect(messages.map((m) => JSON.parse(m.Body as string))).toEqual([
        expect.objectContaining({
          requestContext: expect.objectContaining({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 }),
          DDBStreamBatchInfo: expect.objectContaining({
            batchSize: 2,
            streamArn: expect.stringContaining(`:${SECONDARY}:`),
          }),
        }),
      ]);
    } finally {
      await createFailureTable(ddb, p.failureTableName);
      for (const c of [ddb, sqs]) c.destroy();
    }
  });
});
