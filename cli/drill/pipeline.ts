/**
 * One replication direction, run locally in the shape the stack deploys it
 * (stacks/replication-workflow.ts): its failure table and DLQ on moto; its state machines, built by
 * the stack's own definition functions from the configuration, on a local Step Functions endpoint
 * (cli/drill/local-sfn.ts): with `workflowType` EXPRESS the batch workflow (Express, started
 * synchronously per stream batch) and its Standard slow lane, with STANDARD the per-event
 * workflow; the real worker bodies with the environment the stack gives this direction's
 * workers; and the stream trigger's own batch processing (`processBatch`, with the trigger's
 * clients) fed replica-stream records in batches of `replication.batchSize`, with Lambda's
 * bounded retry of the records a batch returns (`batchItemFailures`: from the lowest returned
 * sequence number on, `maximumRetryAttempts` times, then the batch's coordinates to the DLQ, as
 * the event source mapping's on-failure destination does).
 *
 * Used by `iot-dr drill` (both directions in one process: each direction's workers are built for
 * it, never shared) and by the two-way test harness (__tests__/support/two-way.ts).
 *
 * Emulator gaps: moto has no Lambda event source mapping and no Step Functions executions, so the
 * delivery loop and the endpoint stand in for them (see local-sfn.ts for its own gaps).
 * https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import {
  applyShadowEvent,
  applyThingEvent,
  applyThingGroupEvent,
  applyThingTypeEvent,
  type EventApplier,
  type EventType,
  SHADOW_FAMILY_EVENT_TYPES,
  THING_FAMILY_EVENT_TYPES,
  THING_GROUP_FAMILY_EVENT_TYPES,
  THING_TYPE_FAMILY_EVENT_TYPES,
  workerHandler,
} from '../../functions/lib/replication';
import { PRINCIPAL_GRACE_ENV } from '../../functions/lib/principal-grace';
import { triggerClients } from '../../functions/lib/trigger/clients';
import type { WorkflowType } from '../../functions/lib/trigger/config';
import { processBatch } from '../../functions/lib/trigger/process';
import type { IotDrConfig } from '../../config/schema';
import { type ReplicationTarget, replicationResourceName, resourceName } from '../../stacks/names';
import {
  batchWorkflowDefinition,
  taskTimeoutFor,
  WORKER_FAMILIES,
  type WorkerFamily,
  type WorkflowRetryPolicy,
  workflowDefinition,
} from '../../stacks/workflow-definition';
import { ACCOUNT } from './events';
import { type LocalStepFunctions, startLocalStepFunctions } from './local-sfn';
import { emulatedLambdaEnv } from '../moto';
import { createFailureTable, type LocalHandler } from './workflow';
import { streamArn, streamRecord } from './stream';

/** The replication settings a direction is built from (`replication` of the configuration, resolved). */
export interface PipelineSettings {
  readonly workflowType: WorkflowType;
  readonly mode: 'complete' | 'thing-only';
  /** `merge` (two-way) or `mirror` (one-way), as the stack sets `CONFLICT_POLICY`. */
  readonly conflicts: 'merge' | 'mirror';
  readonly retry: WorkflowRetryPolicy;
  readonly taskTimeoutSeconds: number;
  /** Workers' `PRINCIPAL_GRACE_SECONDS` and the workflow's certificate retrier. @default the library's */
  readonly principalGraceSeconds?: number;
  readonly failureRetentionDays: number;
}

/** The settings the stack derives from `config.replication` (stacks/replication-workflow.ts). */
export function pipelineSettings(replication: IotDrConfig['replication']): PipelineSettings {
  return {
    workflowType: replication.workflowType,
    mode: replication.mode,
    conflicts: replication.direction === 'two-way' ? 'merge' : 'mirror',
    retry: {
      maxAttempts: replication.workflowRetryMaxAttempts,
      intervalSeconds: replication.workflowRetryIntervalSeconds,
      maxDelaySeconds: replication.workflowRetryMaxDelaySeconds,
    },
    taskTimeoutSeconds: taskTimeoutFor(replication.workerTimeoutSeconds),
    principalGraceSeconds: replication.principalGraceSeconds,
    failureRetentionDays: replication.failureRetentionDays,
  };
}

type WorkerFn = (input: unknown) => Promise<{ outcomes: Array<{ action: string }> }>;

/**
 * Each family's worker: its entry folder (functions/<entry>/handler.ts, whose body is
 * `workerHandler('iot-dr-<entry>', types, applier)`), event types and applier.
 */
const WORKER_BODIES: Readonly<Record<WorkerFamily, readonly [string, readonly EventType[], EventApplier]>> = {
  thing: ['worker-thing', THING_FAMILY_EVENT_TYPES, applyThingEvent],
  thingType: ['worker-thing-type', THING_TYPE_FAMILY_EVENT_TYPES, applyThingTypeEvent],
  thingGroup: ['worker-thing-group', THING_GROUP_FAMILY_EVENT_TYPES, applyThingGroupEvent],
  shadow: ['worker-shadow', SHADOW_FAMILY_EVENT_TYPES, applyShadowEvent],
};

export interface PipelineOptions {
  /** The region this direction writes (where the stack deploys it). */
  readonly target: ReplicationTarget;
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  /** `namePrefix`: resources are named as the stack names them (`replicationResourceName`). */
  readonly namePrefix: string;
  readonly settings: PipelineSettings;
  /** moto server: failure table, DLQ, and every non-Step-Functions call of the trigger. */
  readonly motoEndpoint: string;
  /** Where the workers' IoT calls go (a capture proxy in front of moto, say). @default motoEndpoint */
  readonly workerEndpoint?: string;
  /** The replication table in the target region (`TABLE_NAME`: the conflict rule's lookups). @default none */
  readonly tableName?: string;
  /**
   * Builds a family's worker handler; called while `process.env` holds this direction's worker
   * environment (a Lambda's environment is read at cold start). @default the worker body
   * (`workerHandler`, as the entry file builds it)
   */
  readonly worker?: (family: WorkerFamily) => WorkerFn;
  /** Retry waits of the local endpoint in ms (-1: the definitions' real waits). @default 50 */
  readonly retryWaitMs?: number;
}

/** How the event source mapping delivered a run's records (see {@link ReplicationPipeline.deliver}). */
export interface Delivery {
  /** Stream batches delivered (first invocations). */
  readonly batches: number;
  /** Re-deliveries of returned records (Lambda's retries). */
  readonly retries: number;
  /** Records given up on after the retries (their batches' coordinates went to the DLQ). */
  readonly discarded: number;
}

/** What one run of events through the pipeline did. */
export interface PipelineRun {
  readonly workflowType: WorkflowType;
  readonly events: number;
  readonly batches: number;
  readonly retries: number;
  readonly discarded: number;
  /** EXPRESS: batch executions (StartSyncExecution) and slow-lane executions; STANDARD: per-event executions. */
  readonly executions: { readonly express: number; readonly slowLane: number; readonly standard: number };
  readonly succeeded: number;
  readonly failed: number;
  /** Items in this direction's failure table. */
  readonly failuresRecorded: number;
  /** Messages in this direction's DLQ (rejected records, batches Lambda gave up on). */
  readonly dlq: number;
  /** A line naming the shape that ran, e.g. `EXPRESS batch (2 executions for 16 events) + slow lane 0`. */
  readonly shape: string;
}

export interface ReplicationPipeline {
  readonly target: ReplicationTarget;
  /** The region it writes. */
  readonly region: string;
  readonly settings: PipelineSettings;
  /** The state machine the trigger starts (the batch workflow with EXPRESS). */
  readonly machineArn: string;
  /** EXPRESS: the slow lane; STANDARD: none. */
  readonly slowLaneArn?: string;
  readonly sfn: LocalStepFunctions;
  /** Client of the target region (the failure table's). */
  readonly ddb: DynamoDBClient;
  readonly failureTableName: string;
  readonly dlqUrl: string;
  /** One invocation of the stream trigger (`processBatch` with this direction's configuration). */
  invoke(records: readonly DynamoDBRecord[]): Promise<DynamoDBBatchResponse>;
  /** A replica-stream record of this direction's region for an item. */
  record(item: object): DynamoDBRecord;
  /**
   * Delivers `items` as the event source mapping would: batches of `batchSize` in order, one
   * trigger invocation each; the records a batch returns are re-delivered from the lowest returned
   * sequence number on (ReportBatchItemFailures with BisectBatchOnFunctionError, as deployed),
   * `maximumRetryAttempts` times, then their batch's coordinates are sent to the DLQ (the
   * mapping's on-failure destination) and the shard moves on. Does not wait for asynchronous
   * (Standard) executions.
   */
  deliver(items: readonly object[], mapping: MappingSettings): Promise<Delivery>;
  /** {@link deliver}, then waits for every execution started, and reports what ran. */
  run(items: readonly object[], mapping: MappingSettings): Promise<PipelineRun>;
  stop(): Promise<void>;
}

/** The event source mapping's settings (`replication.batchSize`, `replication.maximumRetryAttempts`). */
export interface MappingSettings {
  readonly batchSize: number;
  readonly maximumRetryAttempts: number;
}

const silent = { info() {}, warn() {}, error() {} };
const noMetrics = { addMetric() {} };

/** Sets up one direction on a running moto server (see the module comment). */
export async function startPipeline(options: PipelineOptions): Promise<ReplicationPipeline> {
  const { target, settings, motoEndpoint } = options;
  const region = target === 'secondary' ? options.secondaryRegion : options.primaryRegion;
  const origin = target === 'secondary' ? options.primaryRegion : options.secondaryRegion;
  const name = (purpose: string) => replicationResourceName(options.namePrefix, purpose, target);
  const arn = (purpose: string) => `arn:aws:states:${region}:${ACCOUNT}:stateMachine:${name(purpose)}`;
  const client = { region, endpoint: motoEndpoint, credentials: { accessKeyId: 'drill', secretAccessKey: 'drill' } };

  // --- Failure table and DLQ ----------------------------------------------------------------
  const ddb = new DynamoDBClient(client);
  const sqs = new SQSClient(client);
  const failureTableName = name('failures');
  await createFailureTable(ddb, failureTableName);
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name('replication-dlq') }))).QueueUrl as string;

  // --- Workers, with the environment the stack gives this direction's functions --------------
  Object.assign(process.env, {
    ...emulatedLambdaEnv(options.workerEndpoint ?? motoEndpoint),
    ORIGIN_REGION: origin,
    TARGET_REGION: region,
    CONFLICT_POLICY: settings.conflicts,
    REPLICATION_MODE: settings.mode,
    ...(options.tableName ? { TABLE_NAME: options.tableName } : {}),
    ...(settings.principalGraceSeconds !== undefined
      ? { [PRINCIPAL_GRACE_ENV]: String(settings.principalGraceSeconds) }
      : {}),
  });
  if (!options.tableName) delete process.env.TABLE_NAME;
  if (settings.principalGraceSeconds === undefined) delete process.env[PRINCIPAL_GRACE_ENV];
  const build =
    options.worker ??
    ((family: WorkerFamily) => {
      const [entry, types, apply] = WORKER_BODIES[family];
      return workerHandler(`iot-dr-${entry}`, types, apply) as WorkerFn;
    });
  const workers = Object.fromEntries(WORKER_FAMILIES.map((f) => [f, build(f)])) as Record<WorkerFamily, LocalHandler>;

  // --- State machines, from the stack's definition functions ---------------------------------
  // Worker ARNs as the stack names the functions (every Task is resolved to the local handler).
  const fake = (family: WorkerFamily) =>
    `arn:aws:lambda:${region}:${ACCOUNT}:function:${name(WORKER_BODIES[family][0])}`;
  const props = {
    workers: Object.fromEntries(WORKER_FAMILIES.map((f) => [f, fake(f)])) as Record<WorkerFamily, string>,
    failureTableName,
    failureRetentionDays: settings.failureRetentionDays,
    retry: settings.retry,
    taskTimeoutSeconds: settings.taskTimeoutSeconds,
    ...(settings.principalGraceSeconds !== undefined ? { principalGraceSeconds: settings.principalGraceSeconds } : {}),
  };
  const express = settings.workflowType === 'EXPRESS';
  const machineArn = arn('replication');
  const slowLaneArn = express ? arn('replication-slow-lane') : undefined;
  const sfn = await startLocalStepFunctions({
    machines: slowLaneArn
      ? [
          { arn: machineArn, type: 'EXPRESS', definition: batchWorkflowDefinition({ ...props, slowLaneArn }) },
          { arn: slowLaneArn, type: 'STANDARD', definition: workflowDefinition(props) },
        ]
      : [{ arn: machineArn, type: 'STANDARD', definition: workflowDefinition(props) }],
    workers,
    dynamodb: ddb,
    forwardTo: motoEndpoint,
    retryWaitMs: options.retryWaitMs ?? 50,
  });

  // --- The trigger: its batch processing with its own clients, configured as the stack does ---
  const clients = triggerClients({
    targetRegion: region,
    workflowType: settings.workflowType,
    endpoint: sfn.endpoint,
  });
  const invoke = (records: readonly DynamoDBRecord[]) =>
    processBatch(records, {
      ...clients,
      stateMachineArn: machineArn,
      workflowType: settings.workflowType,
      dlqUrl,
      targetRegion: region,
      logger: silent,
      metrics: noMetrics,
    });
  // The replica stream of the replication table (a global table: one name in both regions).
  const source = { region, table: resourceName(options.namePrefix, 'events') };
  const record = (item: object) => streamRecord(item, 'INSERT', source);

  /** The event source mapping's on-failure destination: the batch's coordinates, not its records. */
  const onFailure = async (records: readonly DynamoDBRecord[], attempts: number) => {
    const first = records[0]?.dynamodb;
    const last = records[records.length - 1]?.dynamodb;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: JSON.stringify({
          requestContext: {
            requestId: randomUUID(),
            condition: 'RetryAttemptsExhausted',
            approximateInvokeCount: attempts,
          },
          responseContext: { statusCode: 200, executedVersion: '$LATEST' },
          version: '1.0',
          timestamp: new Date().toISOString(),
          DDBStreamBatchInfo: {
            shardId: 'shardId-drill',
            startSequenceNumber: first?.SequenceNumber,
            endSequenceNumber: last?.SequenceNumber,
            batchSize: records.length,
            streamArn: streamArn(source),
          },
        }),
      }),
    );
  };

  async function deliver(items: readonly object[], mapping: MappingSettings): Promise<Delivery> {
    let batches = 0;
    let retries = 0;
    let discarded = 0;
    for (let i = 0; i < items.length; i += mapping.batchSize) {
      let records = items.slice(i, i + mapping.batchSize).map(record);
      batches++;
      for (let attempt = 1; ; attempt++) {
        const returned = new Set((await invoke(records)).batchItemFailures.map((f) => f.itemIdentifier));
        if (!returned.size) break;
        // From the lowest returned sequence number on (an identifier of no record: the whole batch).
        const from = records.findIndex((r) => returned.has(r.dynamodb?.SequenceNumber ?? ''));
        records = records.slice(Math.max(0, from));
        if (attempt > mapping.maximumRetryAttempts) {
          await onFailure(records, attempt);
          discarded += records.length;
          break;
        }
        retries++;
      }
    }
    return { batches, retries, discarded };
  }

  async function run(items: readonly object[], mapping: MappingSettings): Promise<PipelineRun> {
    const before = Object.fromEntries(Object.entries(sfn.stats).map(([k, s]) => [k, { ...s }]));
    const delivered = await deliver(items, mapping);
    await sfn.drain();
    const delta = (machine: string | undefined, key: 'executions' | 'succeeded' | 'failed') =>
      machine ? sfn.stats[machine][key] - before[machine][key] : 0;
    const executions = express
      ? { express: delta(machineArn, 'executions'), slowLane: delta(slowLaneArn, 'executions'), standard: 0 }
      : { express: 0, slowLane: 0, standard: delta(machineArn, 'executions') };
    const [recorded, dlq] = await Promise.all([
      ddb.send(new ScanCommand({ TableName: failureTableName, Select: 'COUNT' })),
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] })),
    ]);
    return {
      workflowType: settings.workflowType,
      events: items.length,
      ...delivered,
      executions,
      succeeded: delta(machineArn, 'succeeded') + delta(slowLaneArn, 'succeeded'),
      failed: delta(machineArn, 'failed') + delta(slowLaneArn, 'failed'),
      failuresRecorded: recorded.Count ?? 0,
      dlq: Number(dlq.Attributes?.ApproximateNumberOfMessages ?? 0),
      shape: express
        ? `EXPRESS batch (${executions.express} execution(s) for ${items.length} event(s)) + slow lane ${executions.slowLane}`
        : `STANDARD (${executions.standard} execution(s) for ${items.length} event(s))`,
    };
  }

  return {
    target,
    region,
    settings,
    machineArn,
    ...(slowLaneArn ? { slowLaneArn } : {}),
    sfn,
    ddb,
    failureTableName,
    dlqUrl,
    invoke,
    record,
    deliver,
    run,
    async stop() {
      await sfn.stop();
      for (const c of [ddb, sqs, clients.sfn, clients.sqs]) c.destroy();
    },
  };
}
