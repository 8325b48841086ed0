// Two-way replication on moto, as deployed (not a test file: jest only runs *.test.ts). Shared by
// __tests__/workflow/two-way.test.ts and `npm run bench:cost -- --two-way`.
//
// Each region's changes are captured by the recording proxy (cli/drill/capture.ts: moto has no
// rules engine; it applies the capture rules' WHERE, so the replicator's own shadow updates are
// dropped and counted) into that region's copy of the replication table, and delivered to the
// OTHER region's direction, set up as the stack deploys it by `iot-dr drill`'s own module
// (cli/drill/pipeline.ts: DLQ and failure table on moto, the stream trigger's batch processing
// with its clients, Express per batch + Standard slow lane: the real ASL on a local Step Functions
// endpoint, cli/drill/local-sfn.ts) with that direction's real worker handlers (their entry
// modules, loaded with its environment). Every direction counts its executions (the endpoint's
// stats), its workers' writes (outcomes that changed something), and the invocations and billed
// milliseconds of its trigger and workers.
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { startCaptureProxy, type CaptureProxy } from '../../cli/drill/capture';
import type { TableItem } from '../../cli/drill/events';
import type { Side } from '../../cli/drill/fleet';
import type { LocalStepFunctions } from '../../cli/drill/local-sfn';
import { type ReplicationPipeline, startPipeline } from '../../cli/drill/pipeline';
import { WORKER_ENTRIES } from '../../stacks/replication-workflow';
import { PRIMARY, SECONDARY, TEST_RETRY, streamEvent } from '../workflow/harness';
import { motoClient, motoIot, motoIotData } from './moto';
import { createReplicationTable, putReplicationItem } from './replication-table';

type Handler = (input: any) => Promise<any>;
/** `toSecondary`: the primary's events applied in the secondary; `toPrimary`: the reverse direction. */
export type Direction = 'toSecondary' | 'toPrimary';
export const DIRECTIONS: readonly Direction[] = ['toSecondary', 'toPrimary'];

/** The replication table's name in both regions (moto has no global tables: one copy per region). */
export const EVENTS_TABLE = 'iot-dr-events';

/** One direction as the stack deploys it, with its counters. */
export interface Pipeline {
  readonly direction: Direction;
  /** The region it writes (where it runs). */
  readonly region: string;
  readonly batchArn: string;
  readonly slowLaneArn: string;
  readonly sfn: LocalStepFunctions;
  readonly ddb: DynamoDBClient;
  /** A replica-stream record of this direction's region for an item. */
  readonly record: ReplicationPipeline['record'];
  readonly trigger: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;
  /** Writes (outcomes that changed something) made by this direction's workers. */
  writes: number;
  /** This direction's shadow writes the capture rules' WHERE dropped (in its region: the replicator's). */
  dropped: number;
  triggerInvocations: number;
  triggerBilledMs: number;
  workerInvocations: number;
  workerBilledMs: number;
}

/** What one delivery (one stream batch) did in its direction. */
export interface Delivery {
  readonly executions: number;
  readonly writes: number;
  readonly failed: number;
  /** Records the trigger returned to Lambda (none when the batch went through). */
  readonly batchItemFailures: readonly string[];
}

/** One round of `replicate`: per direction, the executions its deliveries ran and the writes they made. */
export interface Round {
  readonly executions: Record<Direction, number>;
  readonly writes: Record<Direction, number>;
  readonly failed: number;
}

export interface ReplicateOptions {
  /** Which direction's share of a round goes first. @default 'primary-first' */
  readonly order?: 'primary-first' | 'secondary-first';
  /** @default 6 */
  readonly maxRounds?: number;
  /** Items per stream batch (one trigger invocation). @default all of a direction's share of the round */
  readonly batchSize?: number;
  /** Sees every round's captured items before they are delivered (the bench counts them). */
  readonly onCaptured?: (items: readonly TableItem[]) => void;
}

export interface TwoWayOptions {
  readonly motoEndpoint: string;
  /**
   * Loads a worker's handler module afresh (it reads its environment at load, as in Lambda): the
   * tests pass `jest.isolateModules` + `require`, the bench a require-cache eviction.
   */
  readonly load: (absolutePath: string) => any;
  /** @default 'thing-only' */
  readonly mode?: 'complete' | 'thing-only';
  /** The workflow's transient retrier. @default TEST_RETRY */
  readonly retry?: { readonly maxAttempts: number; readonly intervalSeconds: number; readonly maxDelaySeconds: number };
  /** @default 60 */
  readonly taskTimeoutSeconds?: number;
  /** Sets `PRINCIPAL_GRACE_SECONDS` of the workers and the slow lane's retrier. @default the library's */
  readonly principalGraceSeconds?: number;
  /** Retry waits of the local endpoint (-1: the definitions' real waits). @default 5 */
  readonly retryWaitMs?: number;
  /** The capture's clock for registry-event timestamps (epoch ms). @default Date.now */
  readonly clock?: () => number;
}

export interface TwoWay {
  readonly proxy: CaptureProxy;
  /** Clients of each region whose writes are captured (as a device's or an operator's would be). */
  readonly primary: Side;
  readonly secondary: Side;
  readonly pipelines: Record<Direction, Pipeline>;
  /** Delivers `items` to one direction's trigger as ONE stream batch and waits for every execution. */
  deliver(direction: Direction, items: ReadonlyArray<{ uuid: string }>): Promise<Delivery>;
  /**
   * Replicates until no change is captured any more (at most `maxRounds`): each round delivers
   * what the previous one captured, the primary's events to the secondary and the secondary's to
   * the primary, in the order asked for, each direction's share in batches of `batchSize`.
   */
  replicate(options?: ReplicateOptions): Promise<Round[]>;
  stop(): Promise<void>;
}

const FUNCTIONS = join(__dirname, '..', '..', 'functions');
const totalExecutions = (p: Pipeline) => Object.values(p.sfn.stats).reduce((n, s) => n + s.executions, 0);
const totalFailed = (p: Pipeline) => Object.values(p.sfn.stats).reduce((n, s) => n + s.failed, 0);
const changedSomething = (outcomes: Array<{ action: string }>) => outcomes.filter((o) => o.action !== 'unchanged' && o.action !== 'skipped').length;

/** Creates the replication table with the conflict rule's indexes (as deployed) in `client`'s region. */
export async function createEventsTable(client: DynamoDBClient): Promise<void> {
  await createReplicationTable(client, EVENTS_TABLE);
}

/**
 * Starts both directions on a running moto server: the replication table (with its tombstone
 * index) in both regions, the capture proxy writing each captured item into its origin region's
 * copy, and per direction (cli/drill/pipeline.ts) its DLQ, failure table, local Step Functions
 * endpoint, workers (loaded with that direction's environment) and trigger.
 */
export async function startTwoWay(options: TwoWayOptions): Promise<TwoWay> {
  const { motoEndpoint, load } = options;
  const tables: Record<string, DynamoDBClient> = {};
  for (const region of [PRIMARY, SECONDARY]) {
    tables[region] = motoClient(DynamoDBClient, motoEndpoint, region);
    await createEventsTable(tables[region]);
  }
  const proxy = await startCaptureProxy(
    motoEndpoint,
    (item) => putReplicationItem(tables[item.originRegion as string], EVENTS_TABLE, item),
    options.clock ? { clock: options.clock } : {},
  );
  const side = (region: string): Side => ({ region, iot: motoIot(proxy.endpoint, region), data: motoIotData(proxy.endpoint, region) });

  // The direction's own module instance, for `stop`.
  const locals: ReplicationPipeline[] = [];

  async function pipeline(direction: Direction): Promise<Pipeline> {
    const counters = { writes: 0, dropped: 0, triggerInvocations: 0, triggerBilledMs: 0, workerInvocations: 0, workerBilledMs: 0 };
    // The workers (their entry modules, loaded afresh with this direction's environment: every
    // IoT call goes through the capture proxy), counted.
    const worker = (family: keyof typeof WORKER_ENTRIES) => {
      const real = load(join(FUNCTIONS, WORKER_ENTRIES[family], 'handler')).handler as Handler;
      return async (input: unknown) => {
        p.workerInvocations++;
        const started = performance.now();
        try {
          const out = await real(input);
          p.writes += changedSomething(out.outcomes);
          return out;
        } finally {
          p.workerBilledMs += Math.ceil(performance.now() - started);
        }
      };
    };
    const local = await startPipeline({
      target: direction === 'toSecondary' ? 'secondary' : 'primary',
      primaryRegion: PRIMARY,
      secondaryRegion: SECONDARY,
      namePrefix: 'iot-dr',
      settings: {
        workflowType: 'EXPRESS',
        mode: options.mode ?? 'thing-only',
        conflicts: 'merge',
        retry: options.retry ?? TEST_RETRY,
        taskTimeoutSeconds: options.taskTimeoutSeconds ?? 60,
        ...(options.principalGraceSeconds !== undefined ? { principalGraceSeconds: options.principalGraceSeconds } : {}),
        failureRetentionDays: 14,
      },
      motoEndpoint,
      workerEndpoint: proxy.endpoint,
      tableName: EVENTS_TABLE,
      worker,
      retryWaitMs: options.retryWaitMs ?? 5,
    });
    locals.push(local);
    // The trigger's batch processing, counted as its invocations would be.
    const trigger: Pipeline['trigger'] = async (event) => {
      p.triggerInvocations++;
      const started = performance.now();
      try {
        return await local.invoke(event.Records);
      } finally {
        p.triggerBilledMs += Math.ceil(performance.now() - started);
      }
    };
    const p: Pipeline = {
      direction,
      region: local.region,
      batchArn: local.machineArn,
      slowLaneArn: local.slowLaneArn as string,
      sfn: local.sfn,
      ddb: local.ddb,
      record: local.record,
      trigger,
      ...counters,
    };
    return p;
  }

  const pipelines = {} as Record<Direction, Pipeline>;
  for (const direction of DIRECTIONS) pipelines[direction] = await pipeline(direction);

  async function deliver(direction: Direction, items: ReadonlyArray<{ uuid: string }>): Promise<Delivery> {
    const p = pipelines[direction];
    const before = { executions: totalExecutions(p), writes: p.writes, failed: totalFailed(p), dropped: proxy.dropped.count };
    const response = await p.trigger(streamEvent(items.map((i) => p.record(i))));
    await p.sfn.drain();
    // Deliveries run one at a time: the shadow writes dropped meanwhile are this direction's workers'.
    p.dropped += proxy.dropped.count - before.dropped;
    return {
      executions: totalExecutions(p) - before.executions,
      writes: p.writes - before.writes,
      failed: totalFailed(p) - before.failed,
      batchItemFailures: response.batchItemFailures.map((f) => f.itemIdentifier),
    };
  }

  async function replicate(opts: ReplicateOptions = {}): Promise<Round[]> {
    const maxRounds = opts.maxRounds ?? 6;
    const batchSize = opts.batchSize ?? Number.POSITIVE_INFINITY;
    const rounds: Round[] = [];
    for (let n = 0; n < maxRounds; n++) {
      const items: TableItem[] = proxy.drain();
      if (!items.length) return rounds;
      opts.onCaptured?.(items);
      const byDirection: Record<Direction, TableItem[]> = {
        toSecondary: items.filter((i) => i.originRegion === PRIMARY),
        toPrimary: items.filter((i) => i.originRegion === SECONDARY),
      };
      const sequence: Direction[] = (opts.order ?? 'primary-first') === 'primary-first' ? ['toSecondary', 'toPrimary'] : ['toPrimary', 'toSecondary'];
      const round = { executions: { toSecondary: 0, toPrimary: 0 }, writes: { toSecondary: 0, toPrimary: 0 }, failed: 0 };
      for (const direction of sequence) {
        const pending = byDirection[direction];
        for (let i = 0; i < pending.length; i += batchSize) {
          const r = await deliver(direction, pending.slice(i, i + batchSize));
          if (r.batchItemFailures.length) throw new Error(`${direction}: the trigger returned ${r.batchItemFailures.length} records`);
          round.executions[direction] += r.executions;
          round.writes[direction] += r.writes;
          round.failed += r.failed;
        }
      }
      rounds.push(round);
    }
    throw new Error(`replication did not settle within ${maxRounds} rounds: ${JSON.stringify(rounds)}`);
  }

  return {
    proxy,
    primary: side(PRIMARY),
    secondary: side(SECONDARY),
    pipelines,
    deliver,
    replicate,
    async stop() {
      for (const local of locals) await local.stop();
      for (const t of Object.values(tables)) t.destroy();
      await proxy.stop();
    },
  };
}
