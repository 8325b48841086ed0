import {
  CreateThingTypeCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeThingTypeCommand,
  UpdateThingTypeCommand,
  type DescribeThingTypeCommandOutput,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { call, find } from './call';
import { targetChangeWins, targetDeleteWins } from './change-log';
import { absentMeansDeleted, keptTargetOnly, type Outcome, type ReplicationContext } from './context';

async function describeType(ctx: ReplicationContext, side: 'origin' | 'target', name: string) {
  return find(ctx, `DescribeThingType ${name} (${side})`, () => ctx[side].iot.send(new DescribeThingTypeCommand({ thingTypeName: name })));
}

const sorted = (list: readonly string[] | undefined) => [...(list ?? [])].sort();

function sameProperties(a: DescribeThingTypeCommandOutput, b: DescribeThingTypeCommandOutput): boolean {
  const pa = a.thingTypeProperties ?? {};
  const pb = b.thingTypeProperties ?? {};
  return (
    (pa.thingTypeDescription ?? '') === (pb.thingTypeDescription ?? '') &&
    JSON.stringify(sorted(pa.searchableAttributes)) === JSON.stringify(sorted(pb.searchableAttributes))
  );
}

/**
 * Deletes a thing type from the secondary: deprecated first (AWS deletes only deprecated types),
 * then deleted. AWS refuses the delete for five minutes after deprecation (and while things still
 * use the type): that refusal is a `RetryableError`, so the workflow's backoff (or reconciliation)
 * finishes the job instead of a sleep inside the Lambda.
 * https://docs.aws.amazon.com/iot/latest/developerguide/delete-thing-types.html
 */
async function deleteThingType(ctx: ReplicationContext, name: string): Promise<Outcome[]> {
  const target = await describeType(ctx, 'target', name);
  if (!target) return [{ kind: 'thingType', name, action: 'unchanged', detail: 'absent in both regions' }];
  if (!target.thingTypeMetadata?.deprecated) {
    await call(ctx, `DeprecateThingType ${name}`, () => ctx.target.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name })));
  }
  try {
    await ctx.target.iot.send(new DeleteThingTypeCommand({ thingTypeName: name }));
  } catch (error) {
    if (awsErrorName(error) === 'InvalidRequestException') {
      throw new RetryableError(`DeleteThingType ${name}: refused (deprecated less than 5 minutes ago, or still in use)`, { cause: error });
    }
    await find(ctx, `DeleteThingType ${name}`, () => Promise.reject(error));
  }
  return [{ kind: 'thingType', name, action: 'deleted' }];
}

/** Options of `syncThingType`. */
export interface SyncThingTypeOptions {
  /**
   * Epoch milliseconds of the origin's THING_TYPE_EVENT. Policy `merge`: a type the target deleted
   * at or after it is not re-created; on a DELETED event, a type the target created, updated or
   * undeprecated after it is not deleted (docs/replication.md, "Conflict rule").
   */
  readonly eventTimeMs?: number;
}

/**
 * Policy `merge`, the origin deleted type `name`: whether the target's own later change keeps it.
 * Only a type still usable in the target can win: AWS deletes only deprecated types, so a type
 * deprecated in the target is on its way out there too, and its later (deprecation) updates, the
 * replicator's own included, never beat the delete.
 */
async function keptAfterOriginDelete(ctx: ReplicationContext, name: string, eventTimeMs: number | undefined): Promise<Outcome | undefined> {
  const target = await describeType(ctx, 'target', name);
  if (!target || target.thingTypeMetadata?.deprecated) return undefined;
  return targetChangeWins(ctx, { kind: 'thingType', name }, eventTimeMs);
}

/**
 * Makes the secondary's thing type match the primary's: description, searchable attributes and
 * deprecation; created when missing, deleted when the primary no longer has it.
 */
export async function syncThingType(ctx: ReplicationContext, name: string, options: SyncThingTypeOptions = {}): Promise<Outcome[]> {
  const source = await describeType(ctx, 'origin', name);
  if (!source) {
    if (!absentMeansDeleted(ctx)) return [keptTargetOnly('thingType', name)];
    const kept = await keptAfterOriginDelete(ctx, name, options.eventTimeMs);
    return kept ? [kept] : deleteThingType(ctx, name);
  }
  const properties = {
    ...(source.thingTypeProperties?.thingTypeDescription ? { thingTypeDescription: source.thingTypeProperties.thingTypeDescription } : {}),
    ...(source.thingTypeProperties?.searchableAttributes?.length ? { searchableAttributes: source.thingTypeProperties.searchableAttributes } : {}),
  };
  const deprecated = source.thingTypeMetadata?.deprecated === true;
  let target = await describeType(ctx, 'target', name);
  const outcomes: Outcome[] = [];
  if (!target) {
    // A type deprecated in the origin never beats a delete (see keptAfterOriginDelete); a usable
    // one does unless the target deleted it at or after the origin's change.
    const since = deprecated && options.eventTimeMs !== undefined ? 0 : options.eventTimeMs;
    const deleted = await targetDeleteWins(ctx, { kind: 'thingType', name }, since);
    if (deleted) return [deprecated ? { ...deleted, detail: `deprecated in the origin and deleted in ${ctx.targetRegion}: the delete wins` } : deleted];
    try {
      await ctx.target.iot.send(new CreateThingTypeCommand({ thingTypeName: name, thingTypeProperties: properties }));
      outcomes.push({ kind: 'thingType', name, action: 'created' });
      target = { thingTypeProperties: properties, thingTypeMetadata: { deprecated: false }, $metadata: {} };
    } catch (error) {
      if (!isAlreadyExists(error)) await call(ctx, `CreateThingType ${name}`, () => Promise.reject(error));
      return syncThingType(ctx, name, options);
    }
  } else if (!sameProperties(source, target)) {
    await call(ctx, `UpdateThingType ${name}`, () =>
      ctx.target.iot.send(new UpdateThingTypeCommand({ thingTypeName: name, thingTypeProperties: properties })),
    );
    outcomes.push({ kind: 'thingType', name, action: 'updated', detail: 'properties' });
  }
  if ((target.thingTypeMetadata?.deprecated === true) !== deprecated) {
    await call(ctx, `DeprecateThingType ${name}`, () =>
      ctx.target.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name, undoDeprecate: !deprecated })),
    );
    if (!outcomes.length) outcomes.push({ kind: 'thingType', name, action: 'updated', detail: deprecated ? 'deprecated' : 'undeprecated' });
  }
  return outcomes.length ? outcomes : [{ kind: 'thingType', name, action: 'unchanged' }];
}

/** Whether the secondary's thing type is deprecated (`false` when it does not exist). */
async function deprecatedInSecondary(ctx: ReplicationContext, name: string): Promise<boolean> {
  return (await describeType(ctx, 'target', name))?.thingTypeMetadata?.deprecated === true;
}

async function undeprecate(ctx: ReplicationContext, name: string): Promise<void> {
  await call(ctx, `DeprecateThingType ${name} (undo, to write a thing of this type)`, () =>
    ctx.target.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name, undoDeprecate: true })),
  );
}

/** Writes sharing one "undeprecated" window on a type, in this process (per secondary client). */
interface UsableWindow {
  holders: number;
  readonly opened: Promise<void>;
}
const windows = new WeakMap<object, Map<string, UsableWindow>>();
const closings = new WeakMap<object, Map<string, Promise<unknown>>>();

function perClient<V>(map: WeakMap<object, Map<string, V>>, client: object): Map<string, V> {
  let byName = map.get(client);
  if (!byName) {
    byName = new Map();
    map.set(client, byName);
  }
  return byName;
}

/**
 * Runs `write` (a CreateThing or UpdateThing naming thing type `name`) in the secondary while
 * that type is not deprecated there, then gives the type back the primary's deprecation.
 *
 * AWS keeps existing things on a deprecated type, but refuses to create a thing with one or to
 * move a thing onto one (InvalidRequestException), so a fleet whose primary has things on a
 * deprecated type could never be copied. The type is undeprecated for the write (DeprecateThingType
 * with `undoDeprecate`) and then synced with the primary (`syncThingType`), which deprecates it
 * again. Concurrent writers of this process share one window: the first one undeprecates, the last
 * one re-syncs, so a copy of thousands of things on one deprecated type costs two extra calls per
 * window, not per thing. Another process (a worker, reconciliation) may deprecate the type in
 * between: the write is then retried after undeprecating again (3 attempts). Whoever writes last
 * re-syncs, so the type always ends as the primary has it; a crash inside the window leaves it
 * undeprecated until the next sync of the type (reconciliation compares types on every run).
 * https://docs.aws.amazon.com/iot/latest/developerguide/deprecate-thing-type.html
 */
export async function withThingTypeUsable<T>(
  ctx: ReplicationContext,
  name: string,
  write: () => Promise<T>,
): Promise<{ readonly value: T; readonly outcomes: Outcome[] }> {
  const open = perClient(windows, ctx.target.iot);
  const closing = perClient(closings, ctx.target.iot);
  let window = open.get(name);
  if (!window) {
    const previous = closing.get(name);
    window = { holders: 0, opened: (async () => {
      await previous?.catch(() => undefined);
      await undeprecate(ctx, name);
    })() };
    open.set(name, window);
  }
  window.holders++;
  let value: T | undefined;
  let failure: unknown;
  let failed = false;
  try {
    await window.opened;
    for (let attempt = 1; ; attempt++) {
      try {
        value = await write();
        break;
      } catch (error) {
        if (attempt >= 3 || awsErrorName(error) !== 'InvalidRequestException' || !(await deprecatedInSecondary(ctx, name))) throw error;
        await undeprecate(ctx, name); // deprecated again meanwhile by another writer
      }
    }
  } catch (error) {
    failed = true;
    failure = error;
  }
  window.holders--;
  let outcomes: Outcome[] = [];
  if (window.holders === 0 && open.get(name) === window) {
    open.delete(name);
    const resync = syncThingType(ctx, name);
    closing.set(name, resync);
    try {
      outcomes = (await resync).filter((o) => o.action !== 'unchanged');
    } finally {
      if (closing.get(name) === resync) closing.delete(name);
    }
  }
  if (failed) throw failure;
  return { value: value as T, outcomes };
}
