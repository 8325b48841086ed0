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
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { ScanCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { UpdateThingCommand, UpdateThingGroupCommand } from '@aws-sdk/client-iot';
import { DeleteThingShadowCommand as DeleteShadowData } from '@aws-sdk/client-iot-data-plane';
import { parseConfig } from '../config/load';
import { startLocalStepFunctions, type LocalMachine } from '../cli/drill/local-sfn';
import { applyEvent } from '../functions/lib/replication';
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

interface ModeResult {
  mode: 'STANDARD' | 'EXPRESS';
  events: number;
  faultRate: number;
  expressExecutions: number;
  expressBilledMs: number;
  standardExecutions: number;
  standardTransitions: number;
  triggerInvocations: number;
  triggerBilledMs: number;
  workerInvocations: number;
  workerBilledMs: number;
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
  const stepFunctions =
    r.standardTransitions * PRICES.standardPerTransition +
    r.expressExecutions * PRICES.expressPerRequest +
    (r.expressBilledMs / 1000) * EXPRESS_MEMORY_GB * PRICES.expressPerGbSecond;
  const lambda =
    (r.triggerInvocations + r.workerInvocations) * PRICES.lambdaPerRequest +
    ((r.triggerBilledMs + r.workerBilledMs) / 1000) * LAMBDA_MEMORY_GB * PRICES.lambdaPerGbSecond;
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
      SECONDARY_REGION: SECONDARY,
      IOT_DR_AWS_ENDPOINT: sfn.endpoint,
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const { handler: trigger } = await import('../functions/stream-trigger/handler');
    let triggerInvocations = 0;
    let triggerBilledMs = 0;

    // --- The fleet before the events (replicated directly, not counted) -----------------------
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
      await applyEvent(
        ctx,
        thingEvent(PRIMARY, 'CREATED', { name, timestamp: Date.now() - 3_600_000 }),
        `init-${name}`,
      );
      names.push(name);
    }

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
    const emit = (item: { uuid: string } & Record<string, unknown>) => {
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
    const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)];
    const lateCerts: Promise<void>[] = [];
    let created = 0;
    const counts: Record<string, number> = {};
    const rate = Number(values.rate);
    for (let n = 0; n < events; n++) {
      // A steady stream of `rate` events/s (the emulated pipeline's capacity is far below AWS's).
      const due = started + (n * 1000) / rate;
      if (Date.now() < due) await new Promise((res) => setTimeout(res, due - Date.now()));
      const roll = Math.random();
      const kind =
        roll < 0.84
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
      counts[kind] = (counts[kind] ?? 0) + 1;
      if (kind === 'shadow') {
        const thing = pick(names);
        const shadowName = Math.random() < 0.2 ? 'config' : '';
        const accepted = await updateShadow(primary, thing, shadowName, { reported: { t: n, ok: true } });
        emit(
          shadowEvent(PRIMARY, 'update', thing, shadowName, {
            state: accepted.state,
            version: accepted.version,
            timestamp: accepted.timestamp,
          }),
        );
      } else if (kind === 'shadowDelete') {
        const thing = pick(names);
        try {
          const out = await primary.data.send(new DeleteShadowData({ thingName: thing, shadowName: 'config' }));
          const version = JSON.parse(Buffer.from(out.payload as Uint8Array).toString()).version as number;
          emit(shadowEvent(PRIMARY, 'delete', thing, 'config', { version }));
        } catch {
          n--; // no named shadow yet: make another event
        }
      } else if (kind === 'thingUpdated') {
        const thing = pick(names);
        await primary.iot.send(
          new UpdateThingCommand({
            thingName: thing,
            attributePayload: { attributes: { i: thing.slice(4), n: String(n) }, merge: false },
          }),
        );
        emit(thingEvent(PRIMARY, 'UPDATED', { name: thing, type: 'sensor', attributes: { n: String(n) } }));
      } else if (kind === 'thingCreated') {
        const name = `new-${created++}`;
        await createThing(primary, name, { type: 'sensor', attributes: { fresh: 'yes' } });
        const timestamp = Date.now();
        emit(thingEvent(PRIMARY, 'CREATED', { name, type: 'sensor', attributes: { fresh: 'yes' }, timestamp }));
        // The device's certificate comes a moment after the thing (no registry event for it).
        lateCerts.push(
          (async () => {
            await new Promise((res) => setTimeout(res, 1000));
            const cert = await createCertificate(primary);
            await attachPolicy(primary, 'bench-policy', cert.arn);
            await attachCertificate(primary, name, cert.arn);
          })(),
        );
        names.push(name);
      } else if (kind === 'membership') {
        const thing = pick(names);
        const group = pick(groups);
        await addToGroup(primary, group, thing);
        emit(membershipEvent(PRIMARY, 'ADDED', group, thing));
      } else if (kind === 'groupUpdated') {
        const group = pick(groups);
        await primary.iot.send(
          new UpdateThingGroupCommand({
            thingGroupName: group,
            thingGroupProperties: { attributePayload: { attributes: { zone: group, n: String(n) }, merge: false } },
          }),
        );
        emit(thingGroupEvent(PRIMARY, 'UPDATED', { name: group, attributes: { n: String(n) } }));
      } else {
        const type = `type-${n}`;
        await createThingType(primary, type);
        emit(thingTypeEvent(PRIMARY, 'CREATED', { name: type }));
      }
    }
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

async function main(): Promise<void> {
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
