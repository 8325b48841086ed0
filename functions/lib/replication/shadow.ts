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
import { find, findAll, jsonEqual } from './call';
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
  readonly version?: number;
  readonly timestamp?: number;
}

/** Options of `syncShadow`. */
export interface SyncShadowOptions {
  /**
   * The primary's shadow version carried by the event. A primary read older than it (eventual
   * consistency) throws `RetryableError` instead of applying stale state.
   */
  readonly eventVersion?: number;
}

const SECTIONS = ['desired', 'reported'] as const;
const label = (thingName: string, shadowName: string) => (shadowName ? `${thingName}/${shadowName}` : `${thingName}/classic`);

/** `iot-dr:<eventId>` (at most 64 characters, AWS's clientToken limit): marks the replicator's writes. */
export function replicatorClientToken(eventId: string | undefined): string {
  return `iot-dr:${eventId ?? 'sync'}`.slice(0, 64);
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

async function getShadow(ctx: ReplicationContext, side: 'primary' | 'secondary', thingName: string, shadowName: string): Promise<ShadowDocument | undefined> {
  const result = await find(ctx, `GetThingShadow ${label(thingName, shadowName)} (${side})`, () =>
    ctx[side].data.send(new GetThingShadowCommand({ thingName, shadowName: shadowName || undefined })),
  );
  if (!result?.payload) return undefined;
  return JSON.parse(Buffer.from(result.payload).toString('utf8')) as ShadowDocument;
}

async function deleteShadow(ctx: ReplicationContext, thingName: string, shadowName: string): Promise<Outcome> {
  const name = label(thingName, shadowName);
  const deleted = await find(ctx, `DeleteThingShadow ${name}`, () =>
    ctx.secondary.data.send(new DeleteThingShadowCommand({ thingName, shadowName: shadowName || undefined })),
  );
  return { kind: 'shadow', name, action: deleted ? 'deleted' : 'unchanged', detail: deleted ? undefined : 'absent' };
}

/**
 * Makes the secondary's shadow (`shadowName` '' = classic) equal to the primary's CURRENT shadow:
 * the difference is written as one update (keys missing in the primary set to null), or the shadow
 * is deleted when the primary has none. Reading the primary instead of replaying the event makes
 * the operation idempotent and order-proof: an old or duplicate event applied late writes the
 * current state (usually: nothing), never the old one, and no version bookkeeping has to live in
 * the secondary. Writes carry the clientToken `iot-dr:<eventId>`.
 */
export async function syncShadow(ctx: ReplicationContext, thingName: string, shadowName: string, options: SyncShadowOptions = {}): Promise<Outcome> {
  // A write is checked by a second pass. Two events of one shadow may be applied at once (the
  // events of a batch run side by side, and a shadow's events land on several stream shards):
  // one can read the primary at version 5, the other at 6 and write first, then the first writes
  // version 5's state over it. The pass after a write reads both regions again and writes what
  // still differs, so the last write of all is always followed by a pass that saw the secondary
  // equal to the primary. Bounded: a shadow that keeps changing has later events that converge it.
  const first = await syncShadowOnce(ctx, thingName, shadowName, options);
  let last = first;
  for (let pass = 1; pass < MAX_SHADOW_PASSES && last.action !== 'unchanged'; pass++) {
    last = await syncShadowOnce(ctx, thingName, shadowName, {});
  }
  return first;
}

/** Passes of {@link syncShadow}: the write and the check after it (plus one more if that wrote). */
const MAX_SHADOW_PASSES = 3;

async function syncShadowOnce(ctx: ReplicationContext, thingName: string, shadowName: string, options: SyncShadowOptions): Promise<Outcome> {
  const name = label(thingName, shadowName);
  const source = await getShadow(ctx, 'primary', thingName, shadowName);
  if (!source) return deleteShadow(ctx, thingName, shadowName);
  if (options.eventVersion !== undefined && typeof source.version === 'number' && source.version < options.eventVersion) {
    throw new RetryableError(`shadow ${name}: primary read returned version ${source.version}, older than the event's ${options.eventVersion}`, {
      context: { thingName, eventId: ctx.eventId },
    });
  }
  const target = await getShadow(ctx, 'secondary', thingName, shadowName);
  const state: Record<string, unknown> = {};
  for (const section of SECTIONS) {
    const patch = shadowPatch(target?.state?.[section], source.state?.[section]);
    if (patch !== undefined) state[section] = patch;
  }
  if (!Object.keys(state).length) {
    return { kind: 'shadow', name, action: 'unchanged', detail: `primary version ${source.version}` };
  }
  const payload = JSON.stringify({ state, clientToken: replicatorClientToken(ctx.eventId) });
  const written = await find(ctx, `UpdateThingShadow ${name}`, () =>
    ctx.secondary.data.send(new UpdateThingShadowCommand({ thingName, shadowName: shadowName || undefined, payload: Buffer.from(payload) })),
  );
  if (!written) {
    // The thing itself is worker-thing's job; its event usually lands within seconds.
    throw new RetryableError(`shadow ${name}: thing ${thingName} is not replicated yet`, { context: { thingName, eventId: ctx.eventId } });
  }
  return { kind: 'shadow', name, action: target ? 'updated' : 'created', detail: `primary version ${source.version}` };
}

/** Deletes the classic and every named shadow of a thing in the secondary (all pages). */
export async function deleteAllShadows(ctx: ReplicationContext, thingName: string): Promise<Outcome[]> {
  const named =
    (await findAll(
      ctx,
      `ListNamedShadowsForThing ${thingName}`,
      paginateListNamedShadowsForThing({ client: ctx.secondary.data, pageSize: Math.min(ctx.pageSize, 100) }, { thingName }),
      (page) => page.results,
    )) ?? [];
  const outcomes: Outcome[] = [];
  for (const shadowName of named) outcomes.push(await deleteShadow(ctx, thingName, shadowName));
  outcomes.push(await deleteShadow(ctx, thingName, ''));
  return outcomes;
}
