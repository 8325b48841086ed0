import { type AttributeValue, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { clientConfig } from '../aws';
import {
  CHANGED_KEY_ATTRIBUTE,
  CHANGES_INDEX,
  DELETED_KEY_ATTRIBUTE,
  DELETIONS_INDEX,
  EVENT_TIME_ATTRIBUTE,
  REMOVALS_INDEX,
  REMOVED_KEY_ATTRIBUTE,
} from '../markers';
import { call } from './call';
import type { Outcome, ReplicationContext } from './context';

/** A shadow update of one region that removed something (a `null` in its accepted state). */
export interface ShadowRemoval {
  /** Epoch seconds the update was accepted. */
  readonly timestamp: number;
  /** The accepted update's state: each `null` removed that key (and its whole subtree). */
  readonly state: unknown;
}

/**
 * The bookkeeping two-way replication's conflict rule reads (docs/replication.md, "Conflict
 * rule"): the replication table's own events (global: every region's events are in every region's
 * copy), found through its sparse indexes by resource. Keys: `thing/<name>`, `thingGroup/<name>`,
 * `thingType/<name>`, `shadow/<thing>/<shadowName>` (`''` = classic).
 */
export interface ChangeLog {
  /** The latest time (epoch ms) `region` deleted `key`, if later than `afterMs` (index `deletions`). */
  deletedAfter(key: string, region: string, afterMs: number): Promise<number | undefined>;
  /**
   * The latest time (epoch ms) `region` created or updated the registry resource `key`, if later
   * than `afterMs` (index `changes`).
   */
  changedAfter(key: string, region: string, afterMs: number): Promise<number | undefined>;
  /**
   * The updates of shadow `key` in `region` accepted at or after `sinceSeconds` that removed
   * something (index `removals`), oldest first.
   */
  removalsSince(key: string, region: string, sinceSeconds: number): Promise<ShadowRemoval[]>;
}

/** Pages read per lookup at most (a resource changed thousands of times within the item TTL). */
const MAX_PAGES = 10;

/** A `ChangeLog` over the replication table `tableName` in `region` (the worker's own). */
export function tableChangeLog(options: { tableName: string; region: string; endpoint?: string; maxAttempts?: number }): ChangeLog {
  const client = new DynamoDBClient(clientConfig({ region: options.region, endpoint: options.endpoint, maxAttempts: options.maxAttempts ?? 3 }));
  /**
   * Items of one index whose key attribute is `key`, captured in `region` (all pages, at most
   * MAX_PAGES), with `timestamp` above (`>`) or from (`>=`) `bound` when the index sorts by time.
   */
  async function query(
    index: string,
    keyAttribute: string,
    key: string,
    region: string,
    projection: readonly string[],
    range?: { readonly op: '>' | '>='; readonly bound: number },
  ): Promise<Record<string, AttributeValue>[]> {
    const names: Record<string, string> = {
      '#k': keyAttribute,
      '#o': 'originRegion',
      ...Object.fromEntries(projection.map((attribute, i) => [`#p${i}`, attribute])),
    };
    const values: Record<string, AttributeValue> = { ':k': { S: key }, ':o': { S: region } };
    if (range) {
      names['#t'] = EVENT_TIME_ATTRIBUTE;
      values[':t'] = { N: String(range.bound) };
    }
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await client.send(
        new QueryCommand({
          TableName: options.tableName,
          IndexName: index,
          KeyConditionExpression: range ? `#k = :k AND #t ${range.op} :t` : '#k = :k',
          FilterExpression: '#o = :o',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ProjectionExpression: projection.map((_, i) => `#p${i}`).join(', '),
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
      if (!start) break;
    }
    return items;
  }
  const time = (item: Record<string, AttributeValue>) => Number(item[EVENT_TIME_ATTRIBUTE]?.N);
  const latest = (times: number[], afterMs: number) => {
    const after = times.filter((t) => Number.isFinite(t) && t > afterMs);
    return after.length ? Math.max(...after) : undefined;
  };
  return {
    async deletedAfter(key, region, afterMs) {
      const items = await query(DELETIONS_INDEX, DELETED_KEY_ATTRIBUTE, key, region, [EVENT_TIME_ATTRIBUTE]);
      // Shadow documents carry epoch seconds, registry events epoch milliseconds.
      return latest(items.map((i) => (key.startsWith('shadow/') ? time(i) * 1000 : time(i))), afterMs);
    },
    async changedAfter(key, region, afterMs) {
      const items = await query(CHANGES_INDEX, CHANGED_KEY_ATTRIBUTE, key, region, [EVENT_TIME_ATTRIBUTE], { op: '>', bound: afterMs });
      return latest(items.map(time), afterMs);
    },
    async removalsSince(key, region, sinceSeconds) {
      const items = await query(REMOVALS_INDEX, REMOVED_KEY_ATTRIBUTE, key, region, [EVENT_TIME_ATTRIBUTE, 'state'], { op: '>=', bound: sinceSeconds });
      return items
        .map((i) => ({ timestamp: time(i), state: i.state ? unmarshall({ state: i.state }).state : undefined }))
        .filter((r) => Number.isFinite(r.timestamp) && r.timestamp >= sinceSeconds)
        .sort((a, b) => a.timestamp - b.timestamp);
    },
  };
}

/** A registry resource the conflict rule looks up: its outcome kind and its change-log key. */
export interface RegistryResource {
  readonly kind: Extract<Outcome['kind'], 'thing' | 'thingGroup' | 'thingType'>;
  readonly name: string;
}

const keyOf = (r: RegistryResource) => `${r.kind}/${r.name}`;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Policy `merge`, about to re-create in the target a registry resource the target lacks, for an
 * origin event of `eventTimeMs`: the target's own delete at or after that time wins (a delete wins
 * a tie), and the outcome says so; `undefined` when the re-creation goes ahead. One Query on the
 * `deletions` index; none without a change log, an event time or policy `merge`.
 */
export async function targetDeleteWins(ctx: ReplicationContext, resource: RegistryResource, eventTimeMs: number | undefined): Promise<Outcome | undefined> {
  if (ctx.conflicts !== 'merge' || !ctx.changes || eventTimeMs === undefined) return undefined;
  const deletedAt = await call(ctx, `tombstones of ${resource.kind} ${resource.name}`, () =>
    (ctx.changes as ChangeLog).deletedAfter(keyOf(resource), ctx.targetRegion, eventTimeMs - 1),
  );
  if (deletedAt === undefined) return undefined;
  return { ...resource, action: 'unchanged', detail: `deleted in ${ctx.targetRegion} at ${iso(deletedAt)}, not before the origin's change at ${iso(eventTimeMs)}: the delete wins` };
}

/**
 * Policy `merge`, about to delete from the target a registry resource the origin DELETED at
 * `deletedAtMs`: a create or update of the target's own strictly after the delete wins (the delete
 * wins a tie), the resource is kept, and the outcome says so; its own event re-creates it in the
 * origin. `undefined` when the delete goes ahead. One Query on the `changes` index.
 */
export async function targetChangeWins(ctx: ReplicationContext, resource: RegistryResource, deletedAtMs: number | undefined): Promise<Outcome | undefined> {
  if (ctx.conflicts !== 'merge' || !ctx.changes || ctx.originDeleted !== true || deletedAtMs === undefined) return undefined;
  const changedAt = await call(ctx, `changes of ${resource.kind} ${resource.name}`, () =>
    (ctx.changes as ChangeLog).changedAfter(keyOf(resource), ctx.targetRegion, deletedAtMs),
  );
  if (changedAt === undefined) return undefined;
  return { ...resource, action: 'unchanged', detail: `changed in ${ctx.targetRegion} at ${iso(changedAt)}, after the origin's delete at ${iso(deletedAtMs)}: the change wins` };
}

/**
 * Policy `merge` without an event to compare with (the drift pass of reconciliation, or a
 * membership that needs its thing): the last delete of `resource` known in region `deletedIn`
 * stands when the other region has not created or updated the resource strictly after it (a
 * delete wins a tie). The epoch milliseconds of that delete, or `undefined` (no delete known
 * within the items' TTL, or a later change). At most two Queries (`deletions`, then `changes`).
 */
async function lastDeleteStands(ctx: ReplicationContext, resource: RegistryResource, deletedIn: string, other: string): Promise<number | undefined> {
  if (ctx.conflicts !== 'merge' || !ctx.changes) return undefined;
  const log = ctx.changes;
  const deletedAt = await call(ctx, `tombstones of ${resource.kind} ${resource.name}`, () => log.deletedAfter(keyOf(resource), deletedIn, 0));
  if (deletedAt === undefined) return undefined;
  const changedAt = await call(ctx, `changes of ${resource.kind} ${resource.name}`, () => log.changedAfter(keyOf(resource), other, deletedAt));
  return changedAt === undefined ? deletedAt : undefined;
}

/**
 * Event-less {@link targetDeleteWins}: about to re-create in the target a resource it lacks, with
 * no origin event time (a drift pass). The target's own last delete wins unless the origin changed
 * the resource after it; the outcome says so, `undefined` when the re-creation goes ahead.
 */
export async function targetDeleteStands(ctx: ReplicationContext, resource: RegistryResource): Promise<Outcome | undefined> {
  const deletedAt = await lastDeleteStands(ctx, resource, ctx.targetRegion, ctx.originRegion);
  if (deletedAt === undefined) return undefined;
  return { ...resource, action: 'unchanged', detail: `deleted in ${ctx.targetRegion} at ${iso(deletedAt)}, not changed in ${ctx.originRegion} since: the delete wins` };
}

/**
 * Event-less counterpart of a DELETED event: the origin lacks a resource the target has, and no
 * DELETED event is being applied (a drift pass: the delete's own event was lost or is late). The
 * origin's last delete, when known and not followed by a change of the target's own, is applied;
 * its time, or `undefined` (the target's resource is kept: its own, or changed later).
 */
export async function originDeleteStands(ctx: ReplicationContext, resource: RegistryResource): Promise<number | undefined> {
  return lastDeleteStands(ctx, resource, ctx.originRegion, ctx.targetRegion);
}
