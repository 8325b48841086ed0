import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  type ListNamedShadowsForThingCommandInput,
  type ListNamedShadowsForThingCommandOutput,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { createPaginator } from '@smithy/core';
import type { PaginationConfiguration, Paginator } from '@smithy/types';
import { RetryableError } from '../errors';
import { REPLICATOR_CLIENT_TOKEN_PREFIX } from '../markers';
import { call, find, findAll, jsonEqual } from './call';
import type { ChangeLog, ShadowRemoval } from './change-log';
import type { Outcome, ReplicationContext } from './context';

/**
 * The SDK ships no paginator for ListNamedShadowsForThing (it is not modelled as paginated), so
 * one is built the way the SDK builds its own: `nextToken` in and out, `pageSize`. Marked pure so
 * that a worker bundle that never lists named shadows drops it (and its command: see
 * __tests__/workflow/worker-iam.test.ts).
 */
const paginateListNamedShadowsForThing: (
  config: PaginationConfiguration & { client: IoTDataPlaneClient },
  input: ListNamedShadowsForThingCommandInput,
) => Paginator<ListNamedShadowsForThingCommandOutput> = /* @__PURE__ */ createPaginator(
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  'nextToken',
  'nextToken',
  'pageSize',
);

/** The part of a shadow document replication cares about. */
export interface ShadowDocument {
  readonly state?: { readonly desired?: unknown; readonly reported?: unknown };
  /** Per-field `{ timestamp }` (epoch seconds) mirroring `state`: comparable across regions. */
  readonly metadata?: { readonly desired?: unknown; readonly reported?: unknown };
  /** A per-region counter: never compared across regions. */
  readonly version?: number;
  readonly timestamp?: number;
}

/** The shadow event a sync answers (the captured `update|delete/accepted` document). */
export interface ShadowEventFacts {
  readonly operation: 'update' | 'delete';
  /** Epoch seconds the origin accepted the update or delete. */
  readonly timestamp?: number;
  /** An update's state as requested (`null` = a key the origin removed). */
  readonly state?: { readonly desired?: unknown; readonly reported?: unknown };
}

/** Options of `syncShadow`. */
export interface SyncShadowOptions {
  /**
   * The origin's shadow version carried by the event. An origin read older than it (eventual
   * consistency) throws `RetryableError` instead of applying stale state.
   */
  readonly eventVersion?: number;
  /** The event being applied: what the origin removed, and when (conflict policy `merge`). */
  readonly event?: ShadowEventFacts;
  /**
   * Epoch seconds. Policy `merge` only: a target-only field or shadow last written before this
   * time is taken as removed in the origin (`iot-dr failback --since`: it existed before the
   * failover and the origin no longer has it); one written after it is the target's own change.
   */
  readonly staleBefore?: number;
}

const SECTIONS = ['desired', 'reported'] as const;
const label = (thingName: string, shadowName: string) => (shadowName ? `${thingName}/${shadowName}` : `${thingName}/classic`);

export { REPLICATOR_CLIENT_TOKEN_PREFIX };

/** `iot-dr:<eventId>` (at most 64 characters, AWS's clientToken limit): marks the replicator's writes. */
export function replicatorClientToken(eventId: string | undefined): string {
  return `${REPLICATOR_CLIENT_TOKEN_PREFIX}${eventId ?? 'sync'}`.slice(0, 64);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The shadow update that turns `current` into `target` under the shadow service's merge rules:
 * objects merge key by key, `null` deletes a key, anything else replaces. `undefined` when equal.
 */
export function shadowPatch(current: unknown, target: unknown): unknown {
  if (isObject(current) && isObject(target)) {
    const patch: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(target)) {
      const sub = shadowPatch(current[key], value);
      if (sub !== undefined) patch[key] = sub;
    }
    for (const key of Object.keys(current)) if (!(key in target)) patch[key] = null;
    return Object.keys(patch).length ? patch : undefined;
  }
  if (target === undefined || target === null) return current === undefined || current === null ? undefined : null;
  return jsonEqual(current, target) ? undefined : target;
}

/**
 * The newest `timestamp` (epoch seconds) in a shadow metadata subtree: a leaf's own, the newest of
 * an object's fields or of an array's elements. `-Infinity` when there is none.
 * https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html#document-structure
 */
export function newestTimestamp(metadata: unknown): number {
  if (Array.isArray(metadata)) return metadata.reduce<number>((max, m) => Math.max(max, newestTimestamp(m)), Number.NEGATIVE_INFINITY);
  if (!isObject(metadata)) return Number.NEGATIVE_INFINITY;
  if (typeof metadata.timestamp === 'number') return metadata.timestamp;
  return Object.values(metadata).reduce<number>((max, m) => Math.max(max, newestTimestamp(m)), Number.NEGATIVE_INFINITY);
}

/** What decides a field's fate under policy `merge` when only one region has it. */
export interface Removal {
  /** The event's requested state at this path (`null`: the origin removed it). */
  readonly requested?: unknown;
  readonly eventTimestamp?: number;
  readonly staleBefore?: number;
  /** What this sync itself wrote at this path (its check pass): not a change of the target's own. */
  readonly ownWrite?: unknown;
  /** Where this section/field is in the shadow's `state` (`['reported', 'color']`); set by the recursion. */
  readonly path?: readonly string[];
  /**
   * The latest time (epoch seconds) the TARGET removed `path` or an ancestor of it (its own
   * removal tombstones): an origin-only field no newer than that is not re-added (a removal wins a
   * tie). `undefined` = never removed.
   */
  readonly targetRemovedAt?: (path: readonly string[]) => number | undefined;
  /** Told the origin time (epoch seconds, -Infinity unknown) of every origin-only field that would be added. */
  readonly onAddition?: (originTimestamp: number) => void;
}

/**
 * The latest time any of `removals` (the target's own removal updates) removed `path` or an
 * ancestor of it: a `null` at any prefix of the path in the update's accepted `state` (`state: null`
 * removes everything). `undefined` when none did.
 */
export function removedAt(removals: readonly ShadowRemoval[], path: readonly string[]): number | undefined {
  let latest: number | undefined;
  for (const removal of removals) {
    let node: unknown = removal.state;
    let removed = node === null;
    for (const key of path) {
      if (removed || !isObject(node)) break;
      node = node[key];
      removed = node === null;
    }
    if (removed && (latest === undefined || removal.timestamp > latest)) latest = removal.timestamp;
  }
  return latest;
}

/** Canonical JSON with sorted keys: the tie-break of two values written in the same second. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (isObject(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));

/**
 * The update that merges the origin's section into the target's under policy `merge`: per field,
 * the newer metadata timestamp wins; equal timestamps (whole seconds) go to the value whose
 * canonical JSON sorts last, so that both regions pick the same winner whatever the delivery
 * order. A field only the origin has is added. A field only the target has is removed when the
 * event removed it no earlier than the target wrote it, or when it predates `staleBefore`;
 * otherwise it is the target's own change and stays. `undefined` when nothing changes.
 */
export function mergePatch(origin: unknown, originMeta: unknown, target: unknown, targetMeta: unknown, removal: Removal = {}): unknown {
  if (isObject(origin) && isObject(target)) {
    const patch: Record<string, unknown> = {};
    for (const key of new Set([...Object.keys(origin), ...Object.keys(target)])) {
      const requested = isObject(removal.requested) ? removal.requested[key] : undefined;
      const ownWrite = isObject(removal.ownWrite) ? removal.ownWrite[key] : undefined;
      const sub = mergePatch(
        origin[key],
        isObject(originMeta) ? originMeta[key] : undefined,
        target[key],
        isObject(targetMeta) ? targetMeta[key] : undefined,
        { ...removal, requested, ownWrite, path: [...(removal.path ?? []), key] },
      );
      if (sub !== undefined) patch[key] = sub;
    }
    return Object.keys(patch).length ? patch : undefined;
  }
  const originAbsent = origin === undefined || origin === null;
  const targetAbsent = target === undefined || target === null;
  if (originAbsent && targetAbsent) return undefined;
  if (targetAbsent) return addition(origin, originMeta, removal);
  const replicatorCopy = removal.ownWrite !== undefined && removal.ownWrite !== null && jsonEqual(removal.ownWrite, target);
  if (originAbsent) {
    if (replicatorCopy) return null; // this sync wrote it, and the origin has removed it since
    const written = newestTimestamp(targetMeta);
    const removedByEvent = removal.requested === null && removal.eventTimestamp !== undefined && written <= removal.eventTimestamp;
    const stale = removal.staleBefore !== undefined && written < removal.staleBefore;
    return removedByEvent || stale ? null : undefined;
  }
  if (jsonEqual(origin, target)) return undefined;
  if (replicatorCopy) return origin; // the origin changed after this sync read it
  const o = newestTimestamp(originMeta);
  const t = newestTimestamp(targetMeta);
  if (o > t || (o === t && canonical(origin) > canonical(target))) return origin;
  return undefined;
}

/**
 * An origin-only value to add to the target, unless the target removed it (or an ancestor) no
 * earlier than the origin wrote it: field by field, so that an object's newer fields still come.
 */
function addition(origin: unknown, originMeta: unknown, removal: Removal): unknown {
  const path = removal.path ?? [];
  if ((removal.targetRemovedAt || removal.onAddition) && isObject(origin) && Object.keys(origin).length) {
    // Leaf by leaf: each field has its own origin time (and the lookup must reach the oldest).
    const patch: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(origin)) {
      const sub = addition(value, isObject(originMeta) ? originMeta[key] : undefined, { ...removal, path: [...path, key] });
      if (sub !== undefined) patch[key] = sub;
    }
    return Object.keys(patch).length ? patch : undefined;
  }
  const written = newestTimestamp(originMeta);
  const removedAtTime = removal.targetRemovedAt?.(path);
  if (removedAtTime !== undefined && removedAtTime >= written) return undefined;
  removal.onAddition?.(written);
  return origin;
}

async function getShadow(ctx: ReplicationContext, side: 'origin' | 'target', thingName: string, shadowName: string): Promise<ShadowDocument | undefined> {
  const result = await find(ctx, `GetThingShadow ${label(thingName, shadowName)} (${side})`, () =>
    ctx[side].data.send(new GetThingShadowCommand({ thingName, shadowName: shadowName || undefined })),
  );
  if (!result?.payload) return undefined;
  return JSON.parse(Buffer.from(result.payload).toString('utf8')) as ShadowDocument;
}

async function deleteShadow(ctx: ReplicationContext, thingName: string, shadowName: string): Promise<Outcome> {
  const name = label(thingName, shadowName);
  const deleted = await find(ctx, `DeleteThingShadow ${name}`, () =>
    ctx.target.data.send(new DeleteThingShadowCommand({ thingName, shadowName: shadowName || undefined })),
  );
  return { kind: 'shadow', name, action: deleted ? 'deleted' : 'unchanged', detail: deleted ? undefined : 'absent' };
}

const newestOf = (doc: ShadowDocument | undefined) => Math.max(newestTimestamp(doc?.metadata?.desired), newestTimestamp(doc?.metadata?.reported));

/**
 * Policy `merge`, the origin has no shadow: delete the target's only when the origin's delete is
 * at least as new as every field the target holds (a later update in the target wins over the
 * delete and reaches the origin through its own event), or when it predates `staleBefore`.
 */
async function originAbsentMerge(ctx: ReplicationContext, thingName: string, shadowName: string, options: SyncShadowOptions): Promise<Outcome> {
  const name = label(thingName, shadowName);
  const target = await getShadow(ctx, 'target', thingName, shadowName);
  if (!target) return { kind: 'shadow', name, action: 'unchanged', detail: 'absent in both regions' };
  const written = newestOf(target);
  const deletedAt = options.event?.operation === 'delete' ? options.event.timestamp : undefined;
  if ((deletedAt !== undefined && written <= deletedAt) || (options.staleBefore !== undefined && written < options.staleBefore)) {
    return deleteShadow(ctx, thingName, shadowName);
  }
  const why = deletedAt !== undefined ? `target written at ${written}, after the origin's delete at ${deletedAt}: kept` : 'origin has none; only a delete event removes the target\'s';
  return { kind: 'shadow', name, action: 'unchanged', detail: why };
}

/**
 * Brings the target region's shadow (`shadowName` '' = classic) up to date with the origin's
 * CURRENT shadow, under the context's conflict policy:
 * - `mirror`: the target becomes equal to the origin (keys missing in the origin set to null,
 *   the shadow deleted when the origin has none).
 * - `merge`: field by field, the newer metadata timestamp wins (`mergePatch`); target-only fields
 *   and shadows are kept unless the origin removed them later.
 * Reading the origin instead of replaying the event makes the operation idempotent and
 * order-proof: an old or duplicate event applied late writes the current state (usually:
 * nothing). Writes carry the clientToken `iot-dr:<eventId>`, which the capture rules filter out,
 * so an applied change is not captured again.
 */
export async function syncShadow(ctx: ReplicationContext, thingName: string, shadowName: string, options: SyncShadowOptions = {}): Promise<Outcome> {
  // A write is checked by a second pass. Two events of one shadow may be applied at once (the
  // events of a batch run side by side, and a shadow's events land on several stream shards):
  // one can read the primary at version 5, the other at 6 and write first, then the first writes
  // version 5's state over it. The pass after a write reads both regions again and writes what
  // still differs, so the last write of all is always followed by a pass that saw the secondary
  // equal to the primary. Bounded: a shadow that keeps changing has later events that converge it.
  // Policy merge: the check pass knows what this sync wrote. A target value equal to it is the
  // replicator's copy, not a change of the target's own, so its (newer) write time does not let
  // it beat an origin change made between this sync's read and its write.
  // Policy merge: the target's own removal tombstones, read at most once per sync (see removals).
  const removals: RemovalLookup = {};
  const first = await syncShadowOnce(ctx, thingName, shadowName, { ...options, removals });
  let last = first;
  for (let pass = 1; pass < MAX_SHADOW_PASSES && last.outcome.action !== 'unchanged'; pass++) {
    last = await syncShadowOnce(ctx, thingName, shadowName, { ownWrite: last.written ?? {}, removals });
  }
  return first.outcome;
}

/** Passes of {@link syncShadow}: the write and the check after it (plus one more if that wrote). */
const MAX_SHADOW_PASSES = 3;

/** One pass: its outcome and the state it wrote (`undefined` when it wrote none). */
interface Pass {
  readonly outcome: Outcome;
  readonly written?: Record<string, unknown>;
}

/** The target's removal tombstones of one shadow, read once per sync (`undefined`: not read yet). */
interface RemovalLookup {
  found?: readonly ShadowRemoval[];
}

/**
 * Policy merge, the origin has fields the target lacks (`additions`: their origin times, epoch
 * seconds): the target region's own removal updates of this shadow since the oldest of them, read
 * once per sync (one Query on the `removals` index; later passes reuse it).
 */
async function targetRemovals(ctx: ReplicationContext, thingName: string, shadowName: string, additions: readonly number[], lookup: RemovalLookup): Promise<readonly ShadowRemoval[]> {
  if (lookup.found) return lookup.found;
  const since = Math.max(0, Math.min(...additions));
  lookup.found = await call(ctx, `removal tombstones of ${label(thingName, shadowName)}`, () =>
    (ctx.changes as ChangeLog).removalsSince(`shadow/${thingName}/${shadowName}`, ctx.targetRegion, Number.isFinite(since) ? since : 0),
  );
  return lookup.found;
}

async function syncShadowOnce(
  ctx: ReplicationContext,
  thingName: string,
  shadowName: string,
  options: SyncShadowOptions & { readonly ownWrite?: Record<string, unknown>; readonly removals: RemovalLookup },
): Promise<Pass> {
  const name = label(thingName, shadowName);
  const source = await getShadow(ctx, 'origin', thingName, shadowName);
  if (!source) {
    return { outcome: ctx.conflicts === 'merge' ? await originAbsentMerge(ctx, thingName, shadowName, options) : await deleteShadow(ctx, thingName, shadowName) };
  }
  if (options.eventVersion !== undefined && typeof source.version === 'number' && source.version < options.eventVersion) {
    throw new RetryableError(`shadow ${name}: origin read returned version ${source.version}, older than the event's ${options.eventVersion}`, {
      context: { thingName, eventId: ctx.eventId },
    });
  }
  const target = await getShadow(ctx, 'target', thingName, shadowName);
  if (!target && ctx.conflicts === 'merge' && ctx.changes) {
    // Delete vs update: a delete in the target at least as new as every field of the origin wins;
    // its own event deletes the origin's copy.
    const written = newestOf(source);
    const deletedAt = await call(ctx, `tombstones of ${name}`, async () =>
      ctx.changes?.deletedAfter(`shadow/${thingName}/${shadowName}`, ctx.targetRegion, Number.isFinite(written) ? written * 1000 - 1 : 0),
    );
    if (deletedAt !== undefined) {
      return { outcome: { kind: 'shadow', name, action: 'unchanged', detail: `deleted in ${ctx.targetRegion} at ${new Date(deletedAt).toISOString()}, not before the origin's last write: the delete wins` } };
    }
  }
  const merge = (extra: Pick<Removal, 'targetRemovedAt' | 'onAddition'>): Record<string, unknown> => {
    const state: Record<string, unknown> = {};
    for (const section of SECTIONS) {
      const patch =
        ctx.conflicts === 'merge'
          ? mergePatch(source.state?.[section], source.metadata?.[section], target?.state?.[section], target?.metadata?.[section], {
              requested: options.event?.operation === 'update' ? options.event.state?.[section] : undefined,
              eventTimestamp: options.event?.timestamp,
              staleBefore: options.staleBefore,
              ownWrite: options.ownWrite?.[section],
              path: [section],
              ...extra,
            })
          : shadowPatch(target?.state?.[section], source.state?.[section]);
      if (patch !== undefined) state[section] = patch;
    }
    return state;
  };
  // Fields the origin has and the target lacks are added, unless the target removed them itself no
  // earlier than the origin wrote them (its removal tombstones, looked up only in that case).
  const additions: number[] = [];
  let state = merge({ onAddition: (t) => additions.push(t) });
  if (additions.length && target && ctx.conflicts === 'merge' && ctx.changes) {
    const removals = await targetRemovals(ctx, thingName, shadowName, additions, options.removals);
    if (removals.length) state = merge({ targetRemovedAt: (path) => removedAt(removals, path) });
  }
  if (!Object.keys(state).length) {
    return { outcome: { kind: 'shadow', name, action: 'unchanged', detail: `origin version ${source.version}` } };
  }
  const payload = JSON.stringify({ state, clientToken: replicatorClientToken(ctx.eventId) });
  const written = await find(ctx, `UpdateThingShadow ${name}`, () =>
    ctx.target.data.send(new UpdateThingShadowCommand({ thingName, shadowName: shadowName || undefined, payload: Buffer.from(payload) })),
  );
  if (!written) {
    // The thing itself is worker-thing's job; its event usually lands within seconds.
    throw new RetryableError(`shadow ${name}: thing ${thingName} is not replicated yet`, { context: { thingName, eventId: ctx.eventId } });
  }
  return { outcome: { kind: 'shadow', name, action: target ? 'updated' : 'created', detail: `origin version ${source.version}` }, written: state };
}

/** Deletes the classic and every named shadow of a thing in the secondary (all pages). */
export async function deleteAllShadows(ctx: ReplicationContext, thingName: string): Promise<Outcome[]> {
  const named =
    (await findAll(
      ctx,
      `ListNamedShadowsForThing ${thingName}`,
      paginateListNamedShadowsForThing({ client: ctx.target.data, pageSize: Math.min(ctx.pageSize, 100) }, { thingName }),
      (page) => page.results,
    )) ?? [];
  const outcomes: Outcome[] = [];
  for (const shadowName of named) outcomes.push(await deleteShadow(ctx, thingName, shadowName));
  outcomes.push(await deleteShadow(ctx, thingName, ''));
  return outcomes;
}
