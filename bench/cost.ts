// Benchmark: cost per million replicated events, latency, and a fault run, for each workflow type.
//
// Each mode runs in its own process (the trigger reads its configuration at module load, as in
// Lambda) against its own moto server: a realistic mix of events (shadow updates dominate; thing,
// group, membership and type events; new things whose certificate is attached a moment after
// them, which wait for it) is made in the primary and fed as replica-stream records, a batch of
// `replication.batchSize` at a time on 4 shards, to the real stream-trigger handler. The trigger
// starts the real ASL (stacks/workflow-definition.ts) on a local Step Functions endpoint
// (aws-local-stepfunctions) whose Tasks are the real worker handlers; the workers reach moto
// through a fault-injecting proxy. Lambda's retry of returned records is emulated (from the first
// returned record, up to `maximumRetryAttempts`, then the DLQ). Counted: executions, state
// transitions, Lambda invocations and billed durations (measured here), failure rows, DLQ
// messages; then both regions are compared (iot-dr verify's snapshot and diff).
//
// Run: npm run bench:cost -- [--events 1000] [--faults 0.01] [--rate 10] [--modes STANDARD,EXPRESS]
// Not a test: it prints the numbers; it exits 1 when an event was lost or the regions differ.
//
// `npm run bench:cost -- --two-way [--events 300] [--devices 20] [--tick 10]` measures instead the
// cost of the second direction of two-way replication (the default), on the default (EXPRESS)
// workflow, with both directions deployed as the stack deploys them (__tests__/support/two-way.ts):
// the secondary idle (changes made in the primary: the echoes the secondary's capture rules and the
// reverse workflow see), then the secondary carrying the fleet (changes made in the secondary: the
// reverse direction's full cost plus the echoes in the forward one); no fault injection.
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ScanCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UpdateThingCommand, UpdateThingGroupCommand } from '@aws-sdk/client-iot';
import { DeleteThingShadowCommand as DeleteShadowData } from '@aws-sdk/client-iot-data-plane';
import { parseConfig } from '../config/load';
import { startLocalStepFunctions, type LocalMachine } from '../cli/drill/local-sfn';
import type { TableItem } from '../cli/drill/events';
import type { Side } from '../cli/drill/fleet';
import { applyEvent, type ReplicationContext } from '../functions/lib/replication';
import { diffSnapshots, snapshotRegion } from '../functions/lib/fleet';
import {
  batchWorkflowDefinition,
  taskTimeoutFor,
  WORKER_FAMILIES,
  type WorkerFamily,
  workflowDefinition,
} from '../stacks/workflow-definition';
import { REPLICATION_FUNCTION_MEMORY_MB } from '../stacks/replication-workflow';
import { createFailureTable, FAKE_WORKERS, streamRecord } from '../__tests__/workflow/harness';
import { DIRECTIONS, type Direction, startTwoWay } from '../__tests__/support/two-way';
import { CHANGED_KEY_ATTRIBUTE, DELETED_KEY_ATTRIBUTE, REMOVED_KEY_ATTRIBUTE } from '../functions/lib/markers';
import {
  addToGroup,
  attachCertificate,
  attachPolicy,
  createCertificate,
  createDevice,
  createGroup,
  createPolicy,
  createThing,
  createThingType,
  membershipEvent,
  PRIMARY,
  SECONDARY,
  shadowEvent,
  thingEvent,
  thingGroupEvent,
  thingTypeEvent,
  twoRegions,
  updateShadow,
} from '../__tests__/support/fleet';
import { startFaultProxy } from '../__tests__/support/fault-proxy';
import { FAKE_CREDENTIALS, startMoto, workerLambdaEnv } from '../__tests__/support/moto';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000' },
    faults: { type: 'string', default: '0.01' },
    modes: { type: 'string', default: 'STANDARD,EXPRESS' },
    devices: { type: 'string', default: '40' },
    rate: { type: 'string', default: '10' },
    'two-way': { type: 'boolean', default: false },
    tick: { type: 'string', default: '10' },
    child: { type: 'string' },
  },
});

/**
 * Public list prices, us-east-1, as published on the AWS pricing pages (recorded 2026-12-01; the
 * same figures as docs/workflow.md). Lambda arm64. DynamoDB Streams reads made by a Lambda event
 * source mapping are free; on-demand writes (the failure table) $0.625 per million write units.
 */
const PRICES = {
  date: '2026-12-01',
  standardPerTransition: 0.025 / 1000,
  expressPerRequest: 1.0 / 1e6,
  expressPerGbSecond: 0.00001667,
  lambdaPerRequest: 0.2 / 1e6,
  lambdaPerGbSecond: 0.0000133334,
  dynamodbPerWrite: 0.625 / 1e6,
  sqsPerRequest: 0.4 / 1e6,
  streamReads: 0,
};
const LAMBDA_MEMORY_GB = REPLICATION_FUNCTION_MEMORY_MB / 1024; // workers and trigger (stacks/replication-workflow.ts)
const EXPRESS_MEMORY_GB = 64 / 1024; // billed in 64 MB chunks; our definitions and inputs are far below

/** What a replication pipeline (one direction) ran: the counts its Step Functions and Lambda bills are made of. */
interface ExecutionCounts {
  expressExecutions: number;
  expressBilledMs: number;
  standardExecutions: number;
  standardTransitions: number;
  triggerInvocations: number;
  triggerBilledMs: number;
  workerInvocations: number;
  workerBilledMs: number;
}

const stepFunctionsCost = (c: ExecutionCounts) =>
  c.standardTransitions * PRICES.standardPerTransition +
  c.expressExecutions * PRICES.expressPerRequest +
  (c.expressBilledMs / 1000) * EXPRESS_MEMORY_GB * PRICES.expressPerGbSecond;
const lambdaCost = (c: ExecutionCounts) =>
  (c.triggerInvocations + c.workerInvocations) * PRICES.lambdaPerRequest +
  ((c.triggerBilledMs + c.workerBilledMs) / 1000) * LAMBDA_MEMORY_GB * PRICES.lambdaPerGbSecond;

interface ModeResult extends ExecutionCounts {
  mode: 'STANDARD' | 'EXPRESS';
  events: number;
  faultRate: number;
  failureRows: number;
  dlqMessages: number;
  lost: number;
  differences: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  wallSeconds: number;
  faultsInjected: Record<string, number>;
  notes: string[];
}

function costPerMillion(r: ModeResult) {
  const per = 1e6 / r.events;
  const stepFunctions = stepFunctionsCost(r);
  const lambda = lambdaCost(r);
  const stores = r.failureRows * PRICES.dynamodbPerWrite + r.dlqMessages * PRICES.sqsPerRequest;
  return {
    stepFunctions: stepFunctions * per,
    lambda: lambda * per,
    stores: stores * per,
    total: (stepFunctions + lambda + stores) * per,
  };
}

const percentile = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

/** The kinds of change the benches make. */
type Kind = 'shadow' | 'shadowDelete' | 'thingUpdated' | 'thingCreated' | 'membership' | 'groupUpdated' | 'type';

/**
 * The realistic mix, from a uniform roll: shadow updates 84 % (a fifth of them on the named
 * shadow `config`), named-shadow deletes 1 %, thing updates 5 %, new things 3 % (their certificate
 * comes a moment later), group memberships 3 %, group updates 3 %, new thing types 1 %.
 */
function pickKind(roll: number): Kind {
  return roll < 0.84
    ? 'shadow'
    : roll < 0.85
      ? 'shadowDelete'
      : roll < 0.9
        ? 'thingUpdated'
        : roll < 0.93
          ? 'thingCreated'
          : roll < 0.96
            ? 'membership'
            : roll < 0.99
              ? 'groupUpdated'
              : 'type';
}

/** The fleet the changes are made on (grows with the new things). */
interface Fleet {
  readonly names: string[];
  readonly groups: string[];
  created: number;
  /** The certificates of new things, attached `certDelayMs` after them (no registry event for it). */
  readonly lateCerts: Promise<void>[];
}

const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];

/**
 * Makes one change of `kind` in `side`'s region (as a device or an operator would) and returns
 * the table item its capture rule writes; undefined when there was nothing to do (no named
 * shadow to delete yet).
 */
async function makeChange(kind: Kind, side: Side, fleet: Fleet, n: number, certDelayMs: number): Promise<TableItem | undefined> {
  const region = side.region;
  if (kind === 'shadow') {
    const thing = pick(fleet.names);
    const shadowName = Math.random() < 0.2 ? 'config' : '';
    const accepted = await updateShadow(side, thing, shadowName, { reported: { t: n, ok: true } });
    return shadowEvent(region, 'update', thing, shadowName, { state: accepted.state, version: accepted.version, timestamp: accepted.timestamp });
  }
  if (kind === 'shadowDelete') {
    const thing = pick(fleet.names);
    try {
      const out = await side.data.send(new DeleteShadowData({ thingName: thing, shadowName: 'config' }));
      const version = JSON.parse(Buffer.from(out.payload as Uint8Array).toString()).version as number;
      return shadowEvent(region, 'delete', thing, 'config', { version });
    } catch {
      return undefined;
    }
  }
  if (kind === 'thingUpdated') {
    const thing = pick(fleet.names);
    await side.iot.send(
      new UpdateThingCommand({ thingName: thing, attributePayload: { attributes: { i: thing.slice(4), n: String(n) }, merge: false } }),
    );
    return thingEvent(region, 'UPDATED', { name: thing, type: 'sensor', attributes: { n: String(n) } });
  }
  if (kind === 'thingCreated') {
    const name = `new-${region}-${fleet.created++}`;
    await createThing(side, name, { type: 'sensor', attributes: { fresh: 'yes' } });
    const timestamp = Date.now();
    fleet.lateCerts.push(
      (async () => {
        await new Promise((res) => setTimeout(res, certDelayMs));
        const cert = await createCertificate(side);
        await attachPolicy(side, 'bench-policy', cert.arn);
        await attachCertificate(side, name, cert.arn);
      })(),
    );
    fleet.names.push(name);
    return thingEvent(region, 'CREATED', { name, type: 'sensor', attributes: { fresh: 'yes' }, timestamp });
  }
  if (kind === 'membership') {
    const thing = pick(fleet.names);
    const group = pick(fleet.groups);
    await addToGroup(side, group, thing);
    return membershipEvent(region, 'ADDED', group, thing);
  }
  if (kind === 'groupUpdated') {
    const group = pick(fleet.groups);
    await side.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName: group,
        thingGroupProperties: { attributePayload: { attributes: { zone: group, n: String(n) }, merge: false } },
      }),
    );
    return thingGroupEvent(region, 'UPDATED', { name: group, attributes: { n: String(n) } });
  }
  const type = `type-${region}-${n}`;
  await createThingType(side, type);
  return thingTypeEvent(region, 'CREATED', { name: type });
}

/**
 * The fleet before the measured events, made in the primary and replicated directly by `ctx`
 * (not counted): a policy, the type `sensor`, 4 groups, `devices` devices each with its own
 * certificate.
 */
async function seedFleet(ctx: ReplicationContext, primary: Side, devices: number): Promise<{ names: string[]; groups: string[] }> {
  await createPolicy(primary, 'bench-policy');
  await createThingType(primary, 'sensor');
  const groups = ['g-0', 'g-1', 'g-2', 'g-3'];
  for (const g of groups) {
    await createGroup(primary, g, { attributes: { zone: g } });
    await applyEvent(ctx, thingGroupEvent(PRIMARY, 'CREATED', { name: g }), `init-${g}`);
  }
  const names: string[] = [];
  for (let i = 0; i < devices; i++) {
    const name = `dev-${i}`;
    await createDevice(primary, name, { type: 'sensor', attributes: { i: String(i) }, policy: 'bench-policy' });
    await applyEvent(ctx, thingEvent(PRIMARY, 'CREATED', { name, timestamp: Date.now() - 3_600_000 }), `init-${name}`);
    names.push(name);
  }
  return { names, groups };
}

async function runMode(
  mode: 'STANDARD' | 'EXPRESS',
  events: number,
  faultRate: number,
  devices: number,
): Promise<ModeResult> {
  const config = parseConfig({ replication: { workflowType: mode } });
  const r = config.replication;
  const moto = await startMoto();
  const proxy = await startFaultProxy({
    target: moto.endpoint,
    rates: {},
    hangMs: 10_000,
  });
  const notes: string[] = [];
  try {
    const { ctx, primary, secondary } = twoRegions(moto.endpoint);
    const ddb = new DynamoDBClient({
      endpoint: moto.endpoint,
      region: SECONDARY,
      credentials: { ...FAKE_CREDENTIALS },
    });
    const sqs = new SQSClient({ endpoint: moto.endpoint, region: SECONDARY, credentials: { ...FAKE_CREDENTIALS } });
    await createFailureTable(ddb);
    const { QueueUrl: dlqUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'iot-dr-replication-dlq' }));

    // Workers: the real handlers, their AWS calls through the fault proxy. The grace is 2 s here
    // (300 s by default) so that a certificate attached a second late is waited for in seconds.
    const GRACE_SECONDS = 5;
    Object.assign(process.env, workerLambdaEnv(proxy.endpoint), { PRINCIPAL_GRACE_SECONDS: String(GRACE_SECONDS) });
    const entries: Record<WorkerFamily, string> = {
      thing: 'worker-thing',
      thingType: 'worker-thing-type',
      thingGroup: 'worker-thing-group',
      shadow: 'worker-shadow',
    };
    let workerInvocations = 0;
    let workerBilledMs = 0;
    const appliedAt = new Map<string, number>();
    const workers = {} as Record<WorkerFamily, (input: any) => Promise<any>>;
    for (const family of WORKER_FAMILIES) {
      const { handler } = await import(`../functions/${entries[family]}/handler`);
      workers[family] = async (input) => {
        workerInvocations++;
        const started = performance.now();
        try {
          const out = await handler(input);
          appliedAt.set(input.eventId, Date.now());
          return out;
        } finally {
          workerBilledMs += Math.ceil(performance.now() - started);
        }
      };
    }

    // The state machines, as the stack builds them from the configuration.
    const ARN = (n: string) => `arn:aws:states:${SECONDARY}:123456789012:stateMachine:${n}`;
    const props = {
      workers: FAKE_WORKERS,
      failureTableName: 'iot-dr-failures',
      failureRetentionDays: r.failureRetentionDays,
      retry: {
        maxAttempts: r.workflowRetryMaxAttempts,
        intervalSeconds: r.workflowRetryIntervalSeconds,
        maxDelaySeconds: r.workflowRetryMaxDelaySeconds,
      },
      taskTimeoutSeconds: taskTimeoutFor(r.workerTimeoutSeconds),
      principalGraceSeconds: GRACE_SECONDS,
    };
    // Real retry waits (transient: 2 s doubling to 10 s, full jitter; the certificate wait: the grace).
    const machines: LocalMachine[] =
      mode === 'EXPRESS'
        ? [
            {
              arn: ARN('iot-dr-replication'),
              type: 'EXPRESS',
              definition: batchWorkflowDefinition({ ...props, slowLaneArn: ARN('iot-dr-replication-slow-lane') }),
              retryWaitMs: -1,
            },
            {
              arn: ARN('iot-dr-replication-slow-lane'),
              type: 'STANDARD',
              definition: workflowDefinition(props),
              retryWaitMs: -1,
            },
          ]
        : [
            {
              arn: ARN('iot-dr-replication'),
              type: 'STANDARD',
              definition: workflowDefinition(props),
              retryWaitMs: -1,
            },
          ];
    const sfn = await startLocalStepFunctions({ machines, workers, dynamodb: ddb, forwardTo: moto.endpoint });

    // The trigger: the real handler, configured as the stack configures it.
    Object.assign(process.env, {
      STATE_MACHINE_ARN: ARN('iot-dr-replication'),
      WORKFLOW_TYPE: mode,
      DLQ_URL: dlqUrl,
      TARGET_REGION: SECONDARY,
      IOT_DR_AWS_ENDPOINT: sfn.endpoint,
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const { handler: trigger } = await import('../functions/stream-trigger/handler');
    let triggerInvocations = 0;
    let triggerBilledMs = 0;

    // --- The fleet before the events (replicated directly, not counted) -----------------------
    const { names, groups } = await seedFleet(ctx, primary, devices);

    // --- Stream: 2 shards, batches of batchSize, Lambda's retry of returned records ------------
    const shards: Array<Array<{ record: ReturnType<typeof streamRecord>; at: number; id: string }>> = [[], []];
    let producing = true;
    let dlqBatches = 0;
    const enqueuedAt = new Map<string, number>();
    const invoke = async (records: ReturnType<typeof streamRecord>[]) => {
      triggerInvocations++;
      const started = performance.now();
      try {
        return await trigger({ Records: records });
      } finally {
        triggerBilledMs += Math.ceil(performance.now() - started);
      }
    };
    const consume = async (queue: (typeof shards)[number]) => {
      while (producing || queue.length) {
        // The mapping's batching: up to batchSize records, or what came within the window.
        if (
          !queue.length ||
          (queue.length < r.batchSize && producing && Date.now() - queue[0].at < r.maximumBatchingWindowSeconds * 1000)
        ) {
          await new Promise((res) => setTimeout(res, 20));
          continue;
        }
        let batch = queue.splice(0, r.batchSize).map((q) => q.record);
        for (let attempt = 0; batch.length; attempt++) {
          let failed: string[];
          try {
            failed = (await invoke(batch)).batchItemFailures.map((f) => f.itemIdentifier);
          } catch {
            failed = [batch[0].dynamodb?.SequenceNumber ?? ''];
          }
          if (!failed.length) break;
          if (attempt >= r.maximumRetryAttempts) {
            dlqBatches++;
            break;
          }
          const first = Math.min(
            ...failed.map((f) => batch.findIndex((rec) => rec.dynamodb?.SequenceNumber === f)).filter((i) => i >= 0),
          );
          batch = batch.slice(Number.isFinite(first) ? first : 0);
        }
      }
    };
    const consumers = shards.map(consume);
    const emit = (item: TableItem) => {
      const record = streamRecord(item);
      enqueuedAt.set(item.uuid, Date.now());
      shards[Math.floor(Math.random() * shards.length)].push({ record, at: Date.now(), id: item.uuid });
    };

    // --- The mix: made in the primary, then captured ------------------------------------------
    proxy.setRates(
      faultRate
        ? {
            throttle: faultRate * 0.4,
            internal: faultRate * 0.2,
            unavailable: faultRate * 0.2,
            reset: faultRate * 0.1,
            hang: faultRate * 0.1,
          }
        : {},
    );
    const started = Date.now();
    const fleet: Fleet = { names, groups, created: 0, lateCerts: [] };
    const counts: Record<string, number> = {};
    const rate = Number(values.rate);
    for (let n = 0; n < events; n++) {
      // A steady stream of `rate` events/s (the emulated pipeline's capacity is far below AWS's).
      const due = started + (n * 1000) / rate;
      if (Date.now() < due) await new Promise((res) => setTimeout(res, due - Date.now()));
      const kind = pickKind(Math.random());
      const item = await makeChange(kind, primary, fleet, n, 1000);
      if (!item) {
        n--; // no named shadow to delete yet: make another event
        continue;
      }
      counts[kind] = (counts[kind] ?? 0) + 1;
      emit(item);
    }
    const lateCerts = fleet.lateCerts;
    await Promise.all(lateCerts);
    producing = false;
    await Promise.all(consumers);
    await sfn.drain();
    const wallSeconds = (Date.now() - started) / 1000;
    proxy.setRates({});

    // --- Outcome ------------------------------------------------------------------------------
    const failureRows = (await ddb.send(new ScanCommand({ TableName: 'iot-dr-failures', Select: 'COUNT' }))).Count ?? 0;
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    const dlqMessages = Number(attrs.Attributes?.ApproximateNumberOfMessages ?? 0) + dlqBatches;
    const latencies = [...enqueuedAt]
      .filter(([id]) => appliedAt.has(id))
      .map(([id, at]) => (appliedAt.get(id) as number) - at);
    const lost = [...enqueuedAt.keys()].filter((id) => !appliedAt.has(id)).length - failureRows - dlqMessages;
    const options = { concurrency: 8 };
    const compare = async () => {
      const [p, s] = await Promise.all([snapshotRegion(primary, options), snapshotRegion(secondary, options)]);
      return diffSnapshots(p, s);
    };
    let differences = await compare();
    if (failureRows) {
      // What the failure rows say, then the scheduled reconciliation's re-drive of them.
      const rows = await ddb.send(new ScanCommand({ TableName: 'iot-dr-failures' }));
      const errors: Record<string, number> = {};
      for (const row of rows.Items ?? []) errors[row.error?.S ?? '?'] = (errors[row.error?.S ?? '?'] ?? 0) + 1;
      notes.push(
        `failure rows by error: ${JSON.stringify(errors)}; region differences before their re-drive: ${differences.length}`,
      );
      // Only the rows are re-applied (as reconciliation's failure re-drive does), not a fleet-wide
      // repair, so that a difference the pipeline left elsewhere still shows.
      let repaired = 0;
      for (const row of rows.Items ?? []) {
        try {
          await applyEvent(ctx, JSON.parse(row.event?.S ?? '{}'), row.eventId?.S);
          repaired++;
        } catch (error) {
          notes.push(`re-drive of ${row.eventId?.S} failed: ${(error as Error).message}`);
        }
      }
      notes.push(`failure rows re-applied (reconciliation's re-drive): ${repaired} of ${rows.Items?.length ?? 0}`);
      differences = await compare();
    }
    if (differences.length) notes.push(`first differences: ${JSON.stringify(differences.slice(0, 3))}`);
    notes.push(`mix: ${JSON.stringify(counts)}`);
    const stat = (arn: string) => sfn.stats[arn] ?? { executions: 0, transitions: 0, billedDurationMs: 0 };
    const express = mode === 'EXPRESS' ? stat(ARN('iot-dr-replication')) : { executions: 0, billedDurationMs: 0 };
    const standard = stat(mode === 'EXPRESS' ? ARN('iot-dr-replication-slow-lane') : ARN('iot-dr-replication'));
    await sfn.stop();
    return {
      mode,
      events,
      faultRate,
      expressExecutions: express.executions,
      expressBilledMs: express.billedDurationMs,
      standardExecutions: standard.executions,
      standardTransitions: standard.transitions,
      triggerInvocations,
      triggerBilledMs,
      workerInvocations,
      workerBilledMs,
      failureRows,
      dlqMessages,
      lost: Math.max(0, lost),
      differences: differences.length,
      latencyP50Ms: percentile(latencies, 50),
      latencyP99Ms: percentile(latencies, 99),
      wallSeconds,
      faultsInjected: { ...proxy.counts },
      notes,
    };
  } finally {
    await proxy.stop();
    await moto.stop();
  }
}

// --- Two-way: the cost of the second direction (`--two-way`) -------------------------------------

/**
 * List prices of the capture side, us-east-1 (recorded with PRICES): AWS IoT rules $0.15 per
 * million rules triggered + $0.15 per million actions executed; DynamoDB on-demand $0.625 per
 * million write request units, replicated writes (rWRU, the global table's copy in the other
 * region) at the same price since November 2024, and an item carrying a conflict-rule key (a
 * tombstone, a registry change, a shadow removal: the sparse indexes `deletions`, `changes`,
 * `removals`) one more write unit in each region's copy.
 */
const CAPTURE_PRICES = {
  rulePerTrigger: 0.15 / 1e6,
  rulePerAction: 0.15 / 1e6,
  dynamodbPerWrite: 0.625 / 1e6,
  dynamodbPerReplicatedWrite: 0.625 / 1e6,
};

/** Counters of one direction's pipeline (cumulative; cases subtract a snapshot). */
interface PipelineCounts extends ExecutionCounts {
  /** Outcomes of its workers that changed something. */
  writes: number;
}

/** What a region's capture rules did: items written (rule actions), writes the WHERE dropped, items with an index key. */
interface CaptureCounts {
  items: number;
  dropped: number;
  tombstones: number;
}

interface TwoWayCase {
  /** `idle`: the primary originates every event; `carrying`: the secondary does (a failover). */
  name: 'idle' | 'carrying';
  origin: string;
  events: number;
  mix: Record<string, number>;
  rounds: number;
  /** Per direction (`toSecondary`, `toPrimary`). */
  pipelines: Record<Direction, PipelineCounts>;
  /** Per region where the capture rules ran. */
  capture: Record<string, CaptureCounts>;
}

const pipelineCost = (c: ExecutionCounts) => stepFunctionsCost(c) + lambdaCost(c);

function captureCost(c: CaptureCounts): number {
  return (
    (c.items + c.dropped) * CAPTURE_PRICES.rulePerTrigger +
    c.items * (CAPTURE_PRICES.rulePerAction + CAPTURE_PRICES.dynamodbPerWrite + CAPTURE_PRICES.dynamodbPerReplicatedWrite) +
    c.tombstones * 2 * CAPTURE_PRICES.dynamodbPerWrite
  );
}

/**
 * Both directions on one moto server through `__tests__/support/two-way.ts` (the capture proxy
 * with the rules' WHERE, each region's real trigger, ASL and workers): the fleet is made in the
 * primary and copied to the secondary (not counted), then `events` changes of the mix are made in
 * the primary (secondary idle), then `events` in the secondary (secondary carrying the fleet), in
 * ticks of `tick` changes; after each tick replication runs until nothing is captured any more
 * (each direction's share of a round is one stream batch: a 1 s batching window at `tick` events/s).
 */
async function runTwoWay(events: number, devices: number, tick: number): Promise<{ cases: TwoWayCase[]; differences: number; notes: string[] }> {
  const config = parseConfig({});
  const r = config.replication;
  Object.assign(process.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT' });
  const moto = await startMoto();
  const notes: string[] = [];
  // Each direction's handler modules are loaded afresh with its environment (as two Lambdas would be).
  const load = (path: string) => {
    const resolved = require.resolve(path);
    delete require.cache[resolved];
    return require(resolved);
  };
  const GRACE_SECONDS = 5;
  const twoWay = await startTwoWay({
    motoEndpoint: moto.endpoint,
    load,
    mode: config.replication.mode,
    retry: { maxAttempts: r.workflowRetryMaxAttempts, intervalSeconds: r.workflowRetryIntervalSeconds, maxDelaySeconds: r.workflowRetryMaxDelaySeconds },
    taskTimeoutSeconds: taskTimeoutFor(r.workerTimeoutSeconds),
    principalGraceSeconds: GRACE_SECONDS,
    retryWaitMs: -1,
  });
  try {
    // --- The fleet in both regions (made and copied with direct clients: nothing captured) ------
    const { ctx, primary: direct } = twoRegions(moto.endpoint);
    const { names, groups } = await seedFleet(ctx, direct, devices);
    const fleet: Fleet = { names, groups, created: 0, lateCerts: [] };

    // --- Counters --------------------------------------------------------------------------------
    const capture: Record<string, CaptureCounts> = {
      [PRIMARY]: { items: 0, dropped: 0, tombstones: 0 },
      [SECONDARY]: { items: 0, dropped: 0, tombstones: 0 },
    };
    const regionOf = (d: Direction) => twoWay.pipelines[d].region;
    const pipelineCounts = (d: Direction): PipelineCounts => {
      const p = twoWay.pipelines[d];
      const stat = (arn: string) => p.sfn.stats[arn] ?? { executions: 0, transitions: 0, billedDurationMs: 0 };
      return {
        expressExecutions: stat(p.batchArn).executions,
        expressBilledMs: stat(p.batchArn).billedDurationMs,
        standardExecutions: stat(p.slowLaneArn).executions,
        standardTransitions: stat(p.slowLaneArn).transitions,
        triggerInvocations: p.triggerInvocations,
        triggerBilledMs: p.triggerBilledMs,
        workerInvocations: p.workerInvocations,
        workerBilledMs: p.workerBilledMs,
        writes: p.writes,
      };
    };
    const minus = <T extends object>(a: T, b: T): T =>
      Object.fromEntries(Object.entries(a).map(([k, v]) => [k, (v as number) - (b[k as keyof T] as number)])) as T;

    /** Counts what a region's capture rules wrote (items, tombstones); the drops are counted per direction. */
    const onCaptured = (items: readonly TableItem[]) => {
      for (const item of items) {
        const c = capture[item.originRegion as string];
        c.items++;
        if ([DELETED_KEY_ATTRIBUTE, CHANGED_KEY_ATTRIBUTE, REMOVED_KEY_ATTRIBUTE].some((k) => item[k] !== undefined)) c.tombstones++;
      }
    };
    const dropped = () => {
      for (const d of DIRECTIONS) capture[regionOf(d)].dropped = twoWay.pipelines[d].dropped;
    };

    const runCase = async (name: TwoWayCase['name'], side: Side): Promise<TwoWayCase> => {
      dropped();
      const before = {
        pipelines: { toSecondary: pipelineCounts('toSecondary'), toPrimary: pipelineCounts('toPrimary') },
        capture: structuredClone(capture),
      };
      const mix: Record<string, number> = {};
      let rounds = 0;
      for (let n = 0; n < events; ) {
        for (let k = 0; k < tick && n < events; ) {
          const kind = pickKind(Math.random());
          // Thing types: the capture emulation does not capture thing-type events (their echo on
          // AWS is one no-op execution, like a group update's): left out of the two-way mix.
          if (kind === 'type') continue;
          if (!(await makeChange(kind, side, fleet, n, 0))) continue;
          mix[kind] = (mix[kind] ?? 0) + 1;
          n++;
          k++;
        }
        await Promise.all(fleet.lateCerts.splice(0));
        rounds = Math.max(rounds, (await twoWay.replicate({ batchSize: r.batchSize, onCaptured })).length);
        dropped();
      }
      return {
        name,
        origin: side.region,
        events,
        mix,
        rounds,
        pipelines: {
          toSecondary: minus(pipelineCounts('toSecondary'), before.pipelines.toSecondary),
          toPrimary: minus(pipelineCounts('toPrimary'), before.pipelines.toPrimary),
        },
        capture: {
          [PRIMARY]: minus(capture[PRIMARY], before.capture[PRIMARY]),
          [SECONDARY]: minus(capture[SECONDARY], before.capture[SECONDARY]),
        },
      };
    };

    const cases = [await runCase('idle', twoWay.primary), await runCase('carrying', twoWay.secondary)];
    const { primary: p, secondary: s } = twoRegions(moto.endpoint);
    const [ps, ss] = await Promise.all([snapshotRegion(p, { concurrency: 8 }), snapshotRegion(s, { concurrency: 8 })]);
    const differences = diffSnapshots(ps, ss);
    if (differences.length) notes.push(`first differences: ${JSON.stringify(differences.slice(0, 3))}`);
    return { cases, differences: differences.length, notes };
  } finally {
    await twoWay.stop();
    await moto.stop();
  }
}

function runChild(mode: string): Promise<ModeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...process.execArgv,
        __filename,
        '--child',
        mode,
        '--events',
        values.events as string,
        '--faults',
        values.faults as string,
        '--devices',
        values.devices as string,
        '--rate',
        values.rate as string,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) reject(new Error(`bench child ${mode} exited ${code} without a result`));
      else resolve(JSON.parse(line.slice(7)));
    });
  });
}

const usd = (x: number) => `$${x.toFixed(2)}`;

function printTwoWay(result: { cases: TwoWayCase[]; differences: number; notes: string[] }): void {
  console.log(
    `prices: us-east-1 list prices recorded ${PRICES.date}: as above for Step Functions and Lambda; IoT rules $0.15/M triggered + $0.15/M actions; DynamoDB on-demand $0.625/M writes and $0.625/M replicated writes (rWRU), items with a conflict-rule key (deletedKey, changedKey, removedKey) one more write per region (their sparse index)`,
  );
  for (const c of result.cases) {
    const per = 1e6 / c.events;
    const [originRegion, otherRegion] = c.origin === PRIMARY ? [PRIMARY, SECONDARY] : [SECONDARY, PRIMARY];
    const [main, back]: Direction[] = c.origin === PRIMARY ? ['toSecondary', 'toPrimary'] : ['toPrimary', 'toSecondary'];
    const line = (d: Direction) => {
      const x = c.pipelines[d];
      return `${x.expressExecutions} express executions (${(x.expressBilledMs / 1000).toFixed(1)} billed s), ${x.standardTransitions} slow-lane transitions, trigger ${x.triggerInvocations} / ${(x.triggerBilledMs / 1000).toFixed(1)} billed s, workers ${x.workerInvocations} / ${(x.workerBilledMs / 1000).toFixed(1)} billed s, ${x.writes} writes`;
    };
    const cap = (region: string) => {
      const x = c.capture[region];
      return `${x.items + x.dropped} rules triggered, ${x.dropped} dropped by the WHERE (replicator shadow writes), ${x.items} items written (${x.tombstones} with a conflict-rule index key)`;
    };
    const cost = {
      originCapture: captureCost(c.capture[originRegion]) * per,
      main: pipelineCost(c.pipelines[main]) * per,
      echoCapture: captureCost(c.capture[otherRegion]) * per,
      echo: pipelineCost(c.pipelines[back]) * per,
    };
    console.log(
      `two-way, secondary ${c.name === 'idle' ? 'idle' : 'carrying the fleet'}: ${c.events} changes made in ${c.origin}, mix ${JSON.stringify(c.mix)}, settled in at most ${c.rounds} rounds per tick\n` +
        `  capture in ${originRegion} (the changes): ${cap(originRegion)}\n` +
        `  ${main} (applies them): ${line(main)}\n` +
        `  capture in ${otherRegion} (the echoes of those writes): ${cap(otherRegion)}\n` +
        `  ${back} (applies the echoes): ${line(back)}\n` +
        `  per million changes: capture ${usd(cost.originCapture)} + ${main} ${usd(cost.main)} | echoes: capture ${usd(cost.echoCapture)} + ${back} ${usd(cost.echo)} = ${usd(cost.echoCapture + cost.echo)}`,
    );
    if (c.name === 'idle') {
      console.log(`  => cost of the second direction, secondary idle: ${usd(cost.echoCapture + cost.echo)} per million primary events (the forward direction itself: ${usd(cost.originCapture + cost.main)})`);
    } else {
      console.log(
        `  => cost of the second direction, secondary carrying the fleet: ${usd(cost.originCapture + cost.main)} (capture in the secondary + the reverse workflow) + ${usd(cost.echoCapture + cost.echo)} (echoes in the forward direction) = ${usd(cost.originCapture + cost.main + cost.echoCapture + cost.echo)} per million secondary events`,
      );
    }
  }
  console.log(`region differences after both cases: ${result.differences}`);
  for (const n of result.notes) console.log(`  ${n}`);
  if (result.differences) process.exitCode = 1;
}

async function main(): Promise<void> {
  if (values['two-way']) {
    printTwoWay(await runTwoWay(Number(values.events), Number(values.devices), Number(values.tick)));
    return;
  }
  if (values.child) {
    const result = await runMode(
      values.child as 'STANDARD' | 'EXPRESS',
      Number(values.events),
      Number(values.faults),
      Number(values.devices),
    );
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  }
  const modes = String(values.modes).split(',');
  const results: ModeResult[] = [];
  for (const mode of modes) results.push(await runChild(mode));
  console.log(
    `prices: us-east-1 list prices recorded ${PRICES.date}: Standard $0.025/1,000 transitions; Express $1.00/M requests + $0.00001667/GB-s (64 MB, 100 ms steps); Lambda arm64 $0.20/M + $0.0000133334/GB-s at ${REPLICATION_FUNCTION_MEMORY_MB} MB; DynamoDB on-demand $0.625/M writes; SQS $0.40/M; stream reads by Lambda free`,
  );
  let failed = false;
  for (const r of results) {
    const c = costPerMillion(r);
    console.log(
      `${r.mode}: ${r.events} events, faults ${(r.faultRate * 100).toFixed(0)} % (${JSON.stringify(r.faultsInjected)}), ${r.wallSeconds.toFixed(1)} s\n` +
        `  step functions: ${r.expressExecutions} express executions (${(r.expressBilledMs / 1000).toFixed(1)} billed s), ${r.standardExecutions} standard executions, ${r.standardTransitions} transitions\n` +
        `  lambda: trigger ${r.triggerInvocations} invocations / ${(r.triggerBilledMs / 1000).toFixed(1)} billed s; workers ${r.workerInvocations} invocations / ${(r.workerBilledMs / 1000).toFixed(1)} billed s\n` +
        `  outcome: failure rows ${r.failureRows}, DLQ ${r.dlqMessages}, lost ${r.lost}, region differences ${r.differences}\n` +
        `  latency stream record -> applied: p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms\n` +
        `  cost per million events: step functions $${c.stepFunctions.toFixed(2)} + lambda $${c.lambda.toFixed(2)} + stores $${c.stores.toFixed(2)} = $${c.total.toFixed(2)}\n` +
        r.notes.map((n) => `  ${n}`).join('\n'),
    );
    if (r.lost || r.differences) failed = true;
  }
  const defaultMode = parseConfig({}).replication.workflowType;
  const def = results.find((r) => r.mode === defaultMode);
  if (failed) process.exitCode = 1;
  if (def) console.log(`default: $${costPerMillion(def).total.toFixed(2)} per million events`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
