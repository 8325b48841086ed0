/**
 * The scheduled drift repair. Each run verifies a bounded slice of the fleet (resuming after the
 * slice the previous run checked), repairs what differs through the replication library, and
 * re-applies the events the replication workflow recorded as failed.
 */
import { DeleteItemCommand, ScanCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListThingsCommand, type ListThingsCommandOutput } from '@aws-sdk/client-iot';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { applyEvent, syncThingGroup, syncThingType, type Outcome, type ReplicationContext } from '../replication';
import { diffThing } from './diff';
import type { Difference } from './model';
import { mapLimit } from './pool';
import { changed, countOutcomes, repairThing } from './repair';
import { diffProvisioning, readProvisioning, syncProvisioning } from './provisioning';
import { isNotFound, readThing, readThingGroups, readThingTypes } from './snapshot';

/** Where the previous run stopped: a ListThings token per region (`null` = start over). */
export interface ReconcileCursor {
  readonly primary: string | null;
  readonly secondary: string | null;
  /** Completed passes over the whole fleet. */
  readonly passes: number;
  /** Things checked in the pass under way. */
  readonly checkedInPass?: number;
  /** Things the last completed pass checked: the fleet size the runs are sized to (0 = unknown). */
  readonly fleetSize?: number;
}

export const EMPTY_CURSOR: ReconcileCursor = { primary: null, secondary: null, passes: 0, checkedInPass: 0, fleetSize: 0 };

/**
 * Sizing of the runs to the fleet: a full pass within `fullPassHours`, without reading faster
 * than the share of the per-thing read quota the job may use.
 */
export interface ReconcileSizing {
  /** Target time of one full pass. @default 24 */
  readonly fullPassHours: number;
  /** Time between runs (the schedule's rate). */
  readonly runIntervalSeconds: number;
  /** Time a run may spend checking things (the rest of the Lambda timeout is for registry and failures). */
  readonly runBudgetSeconds: number;
  /**
   * Things checked per second at most: the quota share times the TPS of the binding per-thing read
   * (ListThingPrincipals, 10 TPS by default, one call per thing in each region; the shadow reads
   * are counted at the same 10 TPS, as the CLI does).
   */
  readonly maxThingsPerSecond: number;
}

/** What a run will check, and the full-pass time that gives. */
export interface RunPlan {
  readonly thingsPerRun: number;
  /** Hours a full pass takes at this size (`null` while the fleet size is unknown). */
  readonly fullPassHours: number | null;
  /** Whether the quota share (not the target time) sets the size. */
  readonly quotaBound: boolean;
}

/**
 * thingsPerRun = min(cap, max(minimum, ceil(fleetSize × runIntervalSeconds / (fullPassHours × 3600))))
 * with cap = floor(maxThingsPerSecond × runBudgetSeconds). While the fleet size is unknown (first
 * pass) a run checks `cap` things. Full pass = ceil(fleetSize / thingsPerRun) × runIntervalSeconds.
 */
export function planRun(sizing: ReconcileSizing, fleetSize: number, minimum: number): RunPlan {
  const cap = Math.max(1, Math.floor(sizing.maxThingsPerSecond * sizing.runBudgetSeconds));
  const wanted = fleetSize > 0 ? Math.ceil((fleetSize * sizing.runIntervalSeconds) / (sizing.fullPassHours * 3600)) : cap;
  const thingsPerRun = Math.min(cap, Math.max(Math.min(minimum, cap), wanted));
  return {
    thingsPerRun,
    fullPassHours: fleetSize > 0 ? (Math.ceil(fleetSize / thingsPerRun) * sizing.runIntervalSeconds) / 3600 : null,
    quotaBound: thingsPerRun === cap && wanted >= cap,
  };
}

export interface ReconcileOptions {
  readonly ctx: ReplicationContext;
  readonly ssm: SSMClient;
  /** SSM parameter holding the cursor (JSON). */
  readonly cursorParameter: string;
  /** Things verified per run (per region listing). */
  readonly thingsPerRun: number;
  /** The workflow's failure table, when deployed. */
  readonly failures?: { readonly client: DynamoDBClient; readonly tableName: string };
  /** Recorded failures re-applied per run. @default 100 */
  readonly failuresPerRun?: number;
  /** Things checked at the same time. @default 4 */
  readonly concurrency?: number;
  /** Size each run to the fleet (then `thingsPerRun` is the minimum), and pace the checks. */
  readonly sizing?: ReconcileSizing;
  /** Waits (pacing); tests inject one. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Clock in ms. @default Date.now */
  readonly now?: () => number;
}

export interface ReconcileResult {
  readonly thingsChecked: number;
  readonly thingsDrifted: number;
  readonly thingsRepaired: number;
  readonly registryRepaired: number;
  readonly differences: readonly Difference[];
  readonly outcomes: Record<string, Record<string, number>>;
  readonly repairErrors: readonly { readonly name: string; readonly error: string }[];
  readonly failuresRetried: number;
  readonly failuresRepaired: number;
  readonly failuresRemaining: number;
  readonly cursor: ReconcileCursor;
  /** The size of this run and the full-pass time it gives. */
  readonly plan: RunPlan;
  /** Share of the current pass done after this run, in percent (`null` while the fleet size is unknown). */
  readonly passProgressPercent: number | null;
}

/** Reads the cursor; a missing or unreadable parameter starts a new pass. */
export async function readCursor(ssm: SSMClient, name: string): Promise<ReconcileCursor> {
  try {
    const res = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = JSON.parse(res.Parameter?.Value ?? '{}') as Partial<ReconcileCursor>;
    return {
      primary: value.primary ?? null,
      secondary: value.secondary ?? null,
      passes: value.passes ?? 0,
      checkedInPass: value.checkedInPass ?? 0,
      fleetSize: value.fleetSize ?? 0,
    };
  } catch (err) {
    if ((err as { name?: string }).name === 'ParameterNotFound' || err instanceof SyntaxError) return EMPTY_CURSOR;
    throw err;
  }
}

export async function writeCursor(ssm: SSMClient, name: string, cursor: ReconcileCursor): Promise<void> {
  await ssm.send(
    new PutParameterCommand({ Name: name, Value: JSON.stringify(cursor), Type: 'SecureString', Overwrite: true }),
  );
}

const INVALID_TOKEN = new Set(['InvalidRequestException', 'InvalidToken', 'InvalidNextTokenException']);

/**
 * Up to `limit` thing names from `token` on; the page size is trimmed so the returned token
 * points exactly after the last name returned (ListThings cannot start after a name).
 */
async function slice(
  ctx: ReplicationContext,
  side: 'primary' | 'secondary',
  token: string | null,
  limit: number,
): Promise<{ names: string[]; next: string | null }> {
  const names: string[] = [];
  let next: string | undefined = token ?? undefined;
  let restarted = false;
  for (let page = 0; page < 10_000; page++) {
    let result: ListThingsCommandOutput;
    try {
      result = await ctx[side === 'primary' ? 'origin' : 'target'].iot.send(
        new ListThingsCommand({ nextToken: next, maxResults: Math.min(250, limit - names.length) }),
      );
    } catch (err) {
      // A token from an older listing can expire: start the pass over rather than stall forever.
      // AWS answers InvalidRequestException; moto names it InvalidToken.
      if (INVALID_TOKEN.has((err as { name?: string }).name ?? '') && next && !restarted) {
        next = undefined;
        restarted = true;
        continue;
      }
      throw err;
    }
    for (const t of result.things ?? []) if (t.thingName) names.push(t.thingName);
    next = result.nextToken || undefined;
    if (!next || names.length >= limit) break;
  }
  return { names, next: next ?? null };
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** One reconciliation run. */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileResult> {
  const { ctx } = options;
  const concurrency = options.concurrency ?? 4;
  const outcomes: Record<string, Record<string, number>> = {};
  const differences: Difference[] = [];
  const repairErrors: { name: string; error: string }[] = [];
  const primary = { region: ctx.originRegion, ...ctx.origin };
  const secondary = { region: ctx.targetRegion, ...ctx.target };

  // 1. Thing types and groups: few, listed whole each run.
  let registryRepaired = 0;
  const [pTypes, sTypes, pGroups, sGroups] = await Promise.all([
    readThingTypes(primary),
    readThingTypes(secondary),
    readThingGroups(primary, concurrency),
    readThingGroups(secondary, concurrency),
  ]);
  const typeDrift = [...new Set([...pTypes.keys(), ...sTypes.keys()])].filter(
    (n) => JSON.stringify(pTypes.get(n)) !== JSON.stringify(sTypes.get(n)),
  );
  const groupDrift = [...new Set([...pGroups.keys(), ...sGroups.keys()])].filter(
    (n) => JSON.stringify(pGroups.get(n)) !== JSON.stringify(sGroups.get(n)),
  );
  for (const name of typeDrift.sort()) {
    try {
      const list = await syncThingType(ctx, name);
      countOutcomes(list, outcomes);
      registryRepaired += changed(list).length ? 1 : 0;
    } catch (err) {
      repairErrors.push({ name: `thingType/${name}`, error: errorText(err) });
    }
  }
  for (const name of groupDrift.sort()) {
    try {
      const list = await syncThingGroup(ctx, name);
      countOutcomes(list, outcomes);
      registryRepaired += changed(list).length ? 1 : 0;
    } catch (err) {
      repairErrors.push({ name: `thingGroup/${name}`, error: errorText(err) });
    }
  }

  // 1b. Provisioning readiness: CA certificates, provisioning templates and claim certificates
  // (few, read whole each run); what differs is repaired.
  const [pProvisioning, sProvisioning] = await Promise.all([
    readProvisioning(primary, concurrency),
    readProvisioning(secondary, concurrency),
  ]);
  const provisioningDrift = diffProvisioning(pProvisioning, sProvisioning);
  if (provisioningDrift.length) {
    differences.push(...provisioningDrift);
    const names = (resource: Difference['resource']) => [...new Set(provisioningDrift.filter((d) => d.resource === resource).map((d) => d.name))];
    const result = await syncProvisioning(
      ctx,
      { primary: pProvisioning, secondary: sProvisioning },
      {
        provisioningTemplates: names('provisioningTemplate'),
        caCertificates: names('caCertificate'),
        claimCertificates: names('claimCertificate'),
      },
    );
    countOutcomes(result.outcomes, outcomes);
    registryRepaired += new Set(changed(result.outcomes).map((o) => `${o.kind}/${o.name}`)).size;
    repairErrors.push(...result.errors);
  }

  // 2. A slice of the things of each region (the secondary's, to find things the primary lost).
  const cursor = await readCursor(options.ssm, options.cursorParameter);
  const plan: RunPlan = options.sizing
    ? planRun(options.sizing, cursor.fleetSize ?? 0, options.thingsPerRun)
    : { thingsPerRun: options.thingsPerRun, fullPassHours: null, quotaBound: false };
  const [pSlice, sSlice] = await Promise.all([
    slice(ctx, 'primary', cursor.primary, plan.thingsPerRun),
    slice(ctx, 'secondary', cursor.secondary, plan.thingsPerRun),
  ]);
  const names = [...new Set([...pSlice.names, ...sSlice.names])].sort();
  let thingsDrifted = 0;
  let thingsRepaired = 0;
  // Pacing: the i-th check starts no earlier than i / maxThingsPerSecond after the first.
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const startedAt = now();
  let started = 0;
  await mapLimit(names, concurrency, async (name) => {
    if (options.sizing) {
      const due = startedAt + (started++ * 1000) / options.sizing.maxThingsPerSecond;
      const wait = due - now();
      if (wait > 0) await sleep(wait);
    }
    try {
      const read = { principals: ctx.mode === 'complete' };
      const [p, s] = await Promise.all([readThing(primary, name, read), readThing(secondary, name, read)]);
      const drift = diffThing(name, p, s);
      if (!drift.length) return;
      thingsDrifted++;
      differences.push(...drift);
      const list: Outcome[] = await repairThing(ctx, name);
      countOutcomes(list, outcomes);
      if (changed(list).length) thingsRepaired++;
    } catch (err) {
      repairErrors.push({ name: `thing/${name}`, error: errorText(err) });
    }
  });
  const wrapped = pSlice.next === null;
  const checked = (cursor.checkedInPass ?? 0) + names.length;
  const nextCursor: ReconcileCursor = {
    primary: pSlice.next,
    secondary: sSlice.next,
    passes: cursor.passes + (wrapped ? 1 : 0),
    checkedInPass: wrapped ? 0 : checked,
    fleetSize: wrapped ? checked : (cursor.fleetSize ?? 0),
  };
  const fleetSize = nextCursor.fleetSize ?? 0;
  const passProgressPercent = wrapped ? 100 : fleetSize > 0 ? Math.min(100, Math.round((checked / fleetSize) * 1000) / 10) : null;
  await writeCursor(options.ssm, options.cursorParameter, nextCursor);

  // 3. Failures the workflow recorded: re-applied through the library, deleted once they succeed.
  let failuresRetried = 0;
  let failuresRepaired = 0;
  let failuresRemaining = 0;
  if (options.failures) {
    const { client, tableName } = options.failures;
    const limit = options.failuresPerRun ?? 100;
    let startKey: Record<string, never> | undefined;
    try {
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: tableName,
            Limit: Math.min(100, limit - failuresRetried),
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        );
        for (const item of page.Items ?? []) {
          const eventId = item.eventId?.S;
          if (!eventId) continue;
          failuresRetried++;
          try {
            const event = JSON.parse(item.event?.S ?? 'null') as unknown;
            const list = await applyEvent(ctx, event, eventId);
            countOutcomes(list, outcomes);
            await client.send(new DeleteItemCommand({ TableName: tableName, Key: { eventId: { S: eventId } } }));
            failuresRepaired++;
          } catch (err) {
            failuresRemaining++;
            await client
              .send(
                new UpdateItemCommand({
                  TableName: tableName,
                  Key: { eventId: { S: eventId } },
                  UpdateExpression:
                    'SET attempts = if_not_exists(attempts, :zero) + :one, #error = :error, #cause = :cause, lastReconciledAt = :now',
                  ConditionExpression: 'attribute_exists(eventId)',
                  ExpressionAttributeNames: { '#error': 'error', '#cause': 'cause' },
                  ExpressionAttributeValues: {
                    ':zero': { N: '0' },
                    ':one': { N: '1' },
                    ':error': { S: (err as Error)?.name ?? 'Error' },
                    ':cause': { S: errorText(err).slice(0, 4000) },
                    ':now': { S: new Date().toISOString() },
                  },
                }),
              )
              .catch((updateErr: unknown) => {
                if ((updateErr as { name?: string }).name !== 'ConditionalCheckFailedException') throw updateErr;
              });
          }
        }
        startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
      } while (startKey && failuresRetried < limit);
    } catch (err) {
      // The workflow (and its table) may not be deployed: nothing recorded, nothing to retry.
      if (!isNotFound(err)) throw err;
    }
  }

  return {
    thingsChecked: names.length,
    thingsDrifted,
    thingsRepaired,
    registryRepaired,
    differences,
    outcomes,
    repairErrors,
    failuresRetried,
    failuresRepaired,
    failuresRemaining,
    cursor: nextCursor,
    plan,
    passProgressPercent,
  };
}
