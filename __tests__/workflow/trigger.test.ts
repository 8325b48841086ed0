// The stream trigger handler against moto (Step Functions StartExecution, SQS): one execution per
// record named after the item id, redelivery starts nothing new, malformed records go to the DLQ
// with their reason while the rest of the batch proceeds. aws-sdk-client-mock only for the one
// fault moto cannot produce: a throttled StartExecution.
import { randomUUID } from 'node:crypto';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SFNClient,
  SFNServiceException,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { emulatedLambdaEnv, motoClient, startMoto, type Moto } from '../support/moto';
import { executionNameFor, decodeRecord } from '../../functions/lib/trigger/records';
import { chunkBatch, processBatch, type TriggerLogger } from '../../functions/lib/trigger/process';
import { MAX_EVENTS_PER_BATCH_EXECUTION, MAX_EXECUTION_INPUT_BYTES } from '../../functions/lib/trigger/limits';
import { triggerConfig } from '../../functions/lib/trigger/config';
import { ACCOUNT, PRIMARY, SECONDARY, item, streamEvent, streamRecord, testDefinition } from './harness';

describe('Stream trigger: record decoding', () => {
  it('keeps a UUID as the execution name', () => {
    const id = randomUUID();
    expect(executionNameFor(id)).toBe(id);
  });

  it('sanitizes other ids to 1-80 allowed characters without collisions', () => {
    const a = executionNameFor('thing/one:two');
    const b = executionNameFor('thing-one-two');
    expect(a).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(b).toBe('thing-one-two');
    expect(a).not.toBe(b);
    expect(executionNameFor('x'.repeat(300))).toMatch(/^[A-Za-z0-9_-]{80}$/);
  });

  it('skips an event that originated in the secondary region', () => {
    const rec = streamRecord(item({ eventType: 'THING_EVENT' }, { originRegion: SECONDARY }));
    expect(decodeRecord(rec, SECONDARY)).toMatchObject({ kind: 'skip' });
  });

  it('rejects an item without expires, naming the field', () => {
    const image = item({ eventType: 'THING_EVENT' });
    delete image.expires;
    expect(decodeRecord(streamRecord(image), SECONDARY)).toMatchObject({
      kind: 'reject',
      reason: expect.stringContaining('NewImage.expires'),
    });
  });

  it('keeps integers beyond 2^53 exact in the execution input instead of rejecting the record', () => {
    // Given a shadow whose reported counter is a 64-bit value (DynamoDB keeps 38 digits)
    const image = item({
      eventType: 'SHADOW_EVENT',
      operation: 'update',
      thingName: 't',
      shadowName: '',
      state: { reported: { n: 1 } },
    });
    const rec = streamRecord(image);
    (rec.dynamodb!.NewImage!.state as any).M.reported.M.n = { N: '18446744073709551615' };
    (rec.dynamodb!.NewImage!.state as any).M.reported.M.ratio = { N: '0.25' };
    // When decoded
    const decision = decodeRecord(rec, SECONDARY);
    // Then it starts, with the exact digits and ordinary numbers as numbers
    expect(decision.kind).toBe('start');
    const input = (decision as { input: string }).input;
    expect(input).toContain('"reported":{"n":18446744073709551615,"ratio":0.25}');
    expect(JSON.parse(input).event.expires).toBe(image.expires);
  });

  it('throws a named error when the environment is incomplete', () => {
    expect(() => triggerConfig({ STATE_MACHINE_ARN: 'arn', TARGET_REGION: SECONDARY })).toThrow(
      'environment variable DLQ_URL is required',
    );
    expect(() => triggerConfig({ STATE_MACHINE_ARN: 'arn', DLQ_URL: 'q', TARGET_REGION: SECONDARY })).toThrow(
      'environment variable WORKFLOW_TYPE is required',
    );
    expect(() => triggerConfig({ STATE_MACHINE_ARN: 'arn', DLQ_URL: 'q', TARGET_REGION: SECONDARY, WORKFLOW_TYPE: 'SYNC' })).toThrow(
      'environment variable WORKFLOW_TYPE must be EXPRESS or STANDARD (got "SYNC")',
    );
  });
});

describe('Stream trigger: EXPRESS batch executions', () => {
  it('Given more events than one execution takes, Then they are split in record order by count (40) and by input size (256 KiB)', () => {
    const small = Array.from({ length: 95 }, (_, i) => ({ i, bytes: 1000 }));
    expect(chunkBatch(small).map((c) => c.length)).toEqual([MAX_EVENTS_PER_BATCH_EXECUTION, MAX_EVENTS_PER_BATCH_EXECUTION, 15]);
    expect(chunkBatch(small).flat().map((x) => x.i)).toEqual(small.map((x) => x.i));
    const big = Array.from({ length: 5 }, (_, i) => ({ i, bytes: 100_000 }));
    const chunks = chunkBatch(big);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 1]);
    for (const c of chunks) expect(c.reduce((n, x) => n + x.bytes + 1, 12)).toBeLessThanOrEqual(MAX_EXECUTION_INPUT_BYTES);
    expect(chunkBatch([])).toEqual([]);
  });
});

describe('Stream trigger: handler against moto', () => {
  let moto: Moto;
  let sfn: SFNClient;
  let sqs: SQSClient;
  let stateMachineArn: string;
  let dlqUrl: string;
  let handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  const saved = { ...process.env };

  beforeAll(async () => {
    moto = await startMoto();
    sfn = motoClient(SFNClient, moto.endpoint, SECONDARY);
    sqs = motoClient(SQSClient, moto.endpoint, SECONDARY);
    const machine = await sfn.send(
      new CreateStateMachineCommand({
        name: 'iot-dr-replication',
        definition: JSON.stringify(testDefinition()),
        roleArn: `arn:aws:iam::${ACCOUNT}:role/iot-dr-workflow`,
        type: 'STANDARD',
      }),
    );
    stateMachineArn = machine.stateMachineArn!;
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'iot-dr-trigger-dlq' }))).QueueUrl!;

    // The real handler module, configured through its environment like in Lambda.
    Object.assign(process.env, {
      ...emulatedLambdaEnv(moto.endpoint),
      STATE_MACHINE_ARN: stateMachineArn,
      WORKFLOW_TYPE: 'STANDARD',
      DLQ_URL: dlqUrl,
      TARGET_REGION: SECONDARY,
    });
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      handler = require('../../functions/stream-trigger/handler').handler;
    });
  });

  afterAll(async () => {
    process.env = saved;
    sfn?.destroy();
    sqs?.destroy();
    await moto?.stop();
  });

  const executionsNamed = async (name: string) => {
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn, maxResults: 1000 }));
    return (list.executions ?? []).filter((e) => e.name === name);
  };

  const drainDlq = async (): Promise<Message[]> => {
    const messages: Message[] = [];
    for (let i = 0; i < 10; i++) {
      const got = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 0,
        }),
      );
      if (!got.Messages?.length) break;
      messages.push(...got.Messages);
    }
    return messages;
  };

  it('starts one execution per record, named after the item id, with { eventId, event } as input', async () => {
    // Given a batch of three events
    const events = [
      item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 'a' }),
      item({
        eventType: 'THING_GROUP_MEMBERSHIP_EVENT',
        operation: 'ADDED',
        groupArn: 'arn:aws:iot:us-east-1:1:thinggroup/g',
      }),
      item({
        eventType: 'SHADOW_EVENT',
        operation: 'update',
        thingName: 'a',
        shadowName: '',
        state: { reported: { t: 21.5 } },
      }),
    ];
    // When the handler receives them
    const response = await handler(streamEvent(events.map((e) => streamRecord(e))));
    // Then nothing is reported failed and each has its execution with the item as input
    expect(response.batchItemFailures).toEqual([]);
    for (const e of events) {
      const [execution] = await executionsNamed(e.uuid as string);
      expect(execution).toBeDefined();
      const described = await sfn.send(new DescribeExecutionCommand({ executionArn: execution.executionArn }));
      expect(JSON.parse(described.input!)).toEqual({ eventId: e.uuid, event: e });
    }
  });

  it('does not start a second execution for a redelivered record (running or closed)', async () => {
    // Given a record already processed
    const event = item({ eventType: 'THING_TYPE_EVENT', operation: 'CREATED', thingTypeName: 'sensor' });
    const record = streamRecord(event);
    expect((await handler(streamEvent([record]))).batchItemFailures).toEqual([]);
    // When it is delivered again while its execution runs, and again after it closed
    expect((await handler(streamEvent([record]))).batchItemFailures).toEqual([]);
    const [execution] = await executionsNamed(event.uuid as string);
    await sfn.send(new StopExecutionCommand({ executionArn: execution.executionArn }));
    const again = await handler(streamEvent([record]));
    // Then it is a success both times and there is still exactly one execution
    expect(again.batchItemFailures).toEqual([]);
    expect(await executionsNamed(event.uuid as string)).toHaveLength(1);
    // ...and the closed one really answers ExecutionAlreadyExists (what the handler treats as success)
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: event.uuid as string, input: '{}' })),
    ).rejects.toMatchObject({ name: 'ExecutionAlreadyExists' });
  });

  it('sends malformed and unknown records to the DLQ with the reason while the rest of the batch proceeds', async () => {
    // Given a batch mixing good records with every kind of bad one
    const good1 = item({ eventType: 'THING_EVENT', operation: 'UPDATED', thingName: 'b' });
    const good2 = item({ eventType: 'THING_GROUP_HIERARCHY_EVENT', operation: 'ADDED' });
    const noUuid = item({ eventType: 'THING_EVENT' });
    delete noUuid.uuid;
    const unknownType = item({ eventType: 'JOB_EVENT' });
    const modify = item({ eventType: 'THING_EVENT' });
    const records = [
      streamRecord(good1),
      streamRecord(undefined),
      streamRecord(noUuid),
      streamRecord(unknownType),
      streamRecord(modify, 'MODIFY'),
      streamRecord(good2),
    ];
    await drainDlq();
    // When the handler receives the batch
    const response = await handler(streamEvent(records));
    // Then no record is reported failed, the good ones started, and each bad one is in the DLQ
    expect(response.batchItemFailures).toEqual([]);
    expect(await executionsNamed(good1.uuid as string)).toHaveLength(1);
    expect(await executionsNamed(good2.uuid as string)).toHaveLength(1);
    const messages = await drainDlq();
    const reasons = messages.map((m) => m.MessageAttributes?.reason?.StringValue);
    expect(reasons).toHaveLength(4);
    expect(reasons).toEqual(
      expect.arrayContaining([
        'dynamodb.NewImage is missing (the stream must use NEW_IMAGE or NEW_AND_OLD_IMAGES)',
        'NewImage.uuid must be a non-empty string (got undefined)',
        expect.stringContaining('NewImage.eventType must be one of THING_EVENT'),
        'eventName must be INSERT (got "MODIFY")',
      ]),
    );
    const unknown = messages.find((m) => m.MessageAttributes?.eventId?.StringValue === unknownType.uuid)!;
    expect(JSON.parse(unknown.Body!)).toMatchObject({
      reason: expect.stringContaining('"JOB_EVENT"'),
      record: { eventName: 'INSERT' },
    });
  });

  it('returns only the throttled record in batchItemFailures (aws-sdk-client-mock: moto cannot throttle)', async () => {
    // Given a Step Functions client that throttles one StartExecution and forwards the rest to moto
    const real = motoClient(SFNClient, moto.endpoint, SECONDARY);
    const throttled = motoClient(SFNClient, moto.endpoint, SECONDARY);
    const events = [0, 1, 2].map((i) => item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: `t${i}` }));
    const victim = events[1].uuid as string;
    const mock = mockClient(throttled);
    mock.on(StartExecutionCommand).callsFake(async (input) => {
      if (input.name === victim) {
        throw new SFNServiceException({
          name: 'ThrottlingException',
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
          message: 'Rate exceeded',
        });
      }
      return real.send(new StartExecutionCommand(input));
    });
    const records = events.map((e) => streamRecord(e));
    const lines: Array<Record<string, unknown>> = [];
    const logger: TriggerLogger = {
      info: (message, extra) => lines.push({ message, ...extra }),
      warn: (message, extra) => lines.push({ message, ...extra }),
      error: (message, extra) => lines.push({ message, ...extra }),
    };
    const counted: Record<string, number> = {};
    // When the batch is processed
    const response = await processBatch(records, {
      sfn: throttled,
      sqs,
      stateMachineArn,
      dlqUrl,
      targetRegion: SECONDARY,
      logger,
      metrics: {
        addMetric: (name, _unit, value) => {
          counted[name] = (counted[name] ?? 0) + value;
        },
      },
    });
    mock.restore();
    real.destroy();
    // Then only the throttled record is returned for retry; the others started
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: records[1].dynamodb!.SequenceNumber }]);
    expect(await executionsNamed(events[0].uuid as string)).toHaveLength(1);
    expect(await executionsNamed(events[2].uuid as string)).toHaveLength(1);
    expect(await executionsNamed(victim)).toHaveLength(0);
    expect(counted).toMatchObject({ ExecutionsStarted: 2, RecordsReturnedForRetry: 1, RejectedRecords: 0 });
    // Every log line names the event it concerns
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line.eventId).toEqual(expect.any(String));
    expect(lines.find((l) => l.eventId === victim)).toMatchObject({ error: 'ThrottlingException' });
  });

  it('returns a record for retry rather than dropping it when the DLQ itself is unreachable', async () => {
    const brokenSqs = new SQSClient({
      region: SECONDARY,
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    const bad = streamRecord(item({ eventType: 'NOPE' }));
    const good = streamRecord(item({ eventType: 'THING_EVENT', operation: 'CREATED', thingName: 'z' }));
    const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const response = await processBatch([good, bad], {
      sfn,
      sqs: brokenSqs,
      stateMachineArn,
      dlqUrl,
      targetRegion: SECONDARY,
      logger: quiet,
      metrics: { addMetric: () => undefined },
    });
    brokenSqs.destroy();
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: bad.dynamodb!.SequenceNumber }]);
  });

  it('ignores events that originated in the secondary region (loop prevention)', async () => {
    const own = item(
      { eventType: 'THING_EVENT', operation: 'CREATED', thingName: 'local' },
      { originRegion: SECONDARY },
    );
    const response = await handler(streamEvent([streamRecord(own)]));
    expect(response.batchItemFailures).toEqual([]);
    expect(await executionsNamed(own.uuid as string)).toHaveLength(0);
    expect(PRIMARY).not.toBe(SECONDARY);
  });
});
