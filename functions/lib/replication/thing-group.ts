import {
  AddThingToThingGroupCommand,
  CreateThingGroupCommand,
  DeleteThingGroupCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  paginateListThingGroups,
  paginateListThingGroupsForThing,
  paginateListThingsInThingGroup,
  RemoveThingFromThingGroupCommand,
  UpdateThingGroupCommand,
  type DescribeThingGroupCommandOutput,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { call, find, findAll, sameMap } from './call';
import { targetChangeWins, targetDeleteStands, targetDeleteWins } from './change-log';
import { absentMeansDeleted, keptTargetOnly, type Outcome, type ReplicationContext } from './context';
import { ensureThing } from './thing';

/** Hierarchies are at most 7 levels deep in AWS IoT; the bound stops a cycle in bad data. */
const MAX_DEPTH = 8;

/**
 * How far one sync has recursed: towards the root (missing parents are created first) and towards
 * the leaves (child groups deleted, recreated or restored). Each direction is bounded by MAX_DEPTH,
 * so a chain of recursive calls is at most 2 × (MAX_DEPTH + 1) long.
 */
interface Depth {
  readonly up: number;
  readonly down: number;
}
const upward = (d: Depth): Depth => ({ up: d.up + 1, down: d.down });
const downward = (d: Depth): Depth => ({ up: d.up, down: d.down + 1 });

function checkDepth(ctx: ReplicationContext, name: string, depth: Depth): void {
  if (depth.up > MAX_DEPTH || depth.down > MAX_DEPTH) {
    throw new RetryableError(`thing group hierarchy deeper than ${MAX_DEPTH} at ${name}`, { context: { eventId: ctx.eventId } });
  }
}

async function describeGroup(ctx: ReplicationContext, side: 'origin' | 'target', name: string) {
  return find(ctx, `DescribeThingGroup ${name} (${side})`, () => ctx[side].iot.send(new DescribeThingGroupCommand({ thingGroupName: name })));
}

/** The direct child groups of `name` in one region (none when the group is gone). */
async function childGroups(ctx: ReplicationContext, side: 'origin' | 'target', name: string): Promise<string[]> {
  const groups = await findAll(
    ctx,
    `ListThingGroups parent=${name} (${side})`,
    // recursive=false: direct children only (moto lists every descendant when it is left out).
    paginateListThingGroups({ client: ctx[side].iot, pageSize: ctx.pageSize }, { parentGroup: name, recursive: false }),
    (page) => page.thingGroups,
  );
  return (groups ?? []).map((g) => g.groupName as string);
}

/** DeleteThingGroup in the secondary; AWS refuses it while child groups remain (→ RetryableError). */
async function deleteOneGroup(ctx: ReplicationContext, name: string): Promise<void> {
  try {
    await ctx.target.iot.send(new DeleteThingGroupCommand({ thingGroupName: name }));
  } catch (error) {
    if (awsErrorName(error) === 'InvalidRequestException') {
      throw new RetryableError(`DeleteThingGroup ${name}: refused (child groups remain)`, { cause: error, context: { eventId: ctx.eventId } });
    }
    await find(ctx, `DeleteThingGroup ${name}`, () => Promise.reject(error));
  }
}

async function deleteGroup(ctx: ReplicationContext, name: string, depth: Depth): Promise<Outcome[]> {
  const target = await describeGroup(ctx, 'target', name);
  if (!target) return [{ kind: 'thingGroup', name, action: 'unchanged', detail: 'absent in both regions' }];
  // AWS refuses to delete a group with child groups: converge the children first (each one is
  // deleted if the primary lost it too, or recreated under the parent the primary gives it).
  const outcomes: Outcome[] = [];
  for (const child of await childGroups(ctx, 'target', name)) outcomes.push(...(await syncGroup(ctx, child, downward(depth))));
  await deleteOneGroup(ctx, name);
  outcomes.push({ kind: 'thingGroup', name, action: 'deleted' });
  return outcomes;
}

/**
 * Deletes `name` and every group under it in the secondary, children first (AWS refuses to
 * delete a group that has child groups). Returns the names deleted, in that order.
 */
async function deleteSubtree(ctx: ReplicationContext, name: string, depth: Depth): Promise<string[]> {
  checkDepth(ctx, name, depth);
  const deleted: string[] = [];
  for (const child of await childGroups(ctx, 'target', name)) deleted.push(...(await deleteSubtree(ctx, child, downward(depth))));
  await deleteOneGroup(ctx, name);
  deleted.push(name);
  return deleted;
}

/**
 * Dynamic thing groups are defined by a fleet-indexing query: their membership is computed by the
 * index of each region, and creating one needs fleet indexing enabled in the secondary. They are
 * reported, not copied (the `iot-dr verify` snapshot skips them for the same reason).
 */
function dynamicGroupSkipped(name: string): Outcome {
  return { kind: 'thingGroup', name, action: 'skipped', detail: 'dynamic thing group (query-defined): not replicated' };
}

function sameGroup(source: DescribeThingGroupCommandOutput, target: DescribeThingGroupCommandOutput): boolean {
  return (
    (source.thingGroupProperties?.thingGroupDescription ?? '') === (target.thingGroupProperties?.thingGroupDescription ?? '') &&
    sameMap(source.thingGroupProperties?.attributePayload?.attributes, target.thingGroupProperties?.attributePayload?.attributes)
  );
}

/**
 * Writes the primary's description and attributes; merge=false replaces the whole set (removals
 * included). Without a description in the primary, '' is sent only when `target` has one to clear.
 */
async function writeProperties(
  ctx: ReplicationContext,
  name: string,
  source: DescribeThingGroupCommandOutput,
  target: DescribeThingGroupCommandOutput | undefined,
): Promise<void> {
  const description = source.thingGroupProperties?.thingGroupDescription;
  const attributes = source.thingGroupProperties?.attributePayload?.attributes ?? {};
  const clear = !description && !!target?.thingGroupProperties?.thingGroupDescription;
  await call(ctx, `UpdateThingGroup ${name}`, () =>
    ctx.target.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName: name,
        thingGroupProperties: { ...(description || clear ? { thingGroupDescription: description ?? '' } : {}), attributePayload: { attributes, merge: false } },
      }),
    ),
  );
}

interface Restored {
  /** Memberships the primary has, (re-)added in the secondary. */
  readonly added: number;
  /** Members of the primary's group that the secondary does not have (yet). */
  readonly absent: readonly string[];
  /** Outcomes of the primary's child groups, converged under this one. */
  readonly children: Outcome[];
}

/**
 * Finishes a group the secondary has just (re)created: adds the memberships of the PRIMARY's group
 * (things not in the secondary yet are left to their own events and to reconciliation), converges
 * the primary's child groups under it, then writes the primary's properties. That last
 * UpdateThingGroup raises the group's version above 1, so a group still at version 1 was left
 * unfinished (a failure in between, e.g. throttling) and the next sync finishes it again; every
 * step is idempotent.
 */
async function restoreGroup(
  ctx: ReplicationContext,
  name: string,
  source: DescribeThingGroupCommandOutput,
  target: DescribeThingGroupCommandOutput | undefined,
  depth: Depth,
): Promise<Restored> {
  // Off (iot-dr copy): the caller syncs every thing's memberships after creating the groups.
  const members = !ctx.restoreMembershipsOnCreate
    ? []
    : ((await findAll(
        ctx,
        `ListThingsInThingGroup ${name} (primary)`,
        paginateListThingsInThingGroup({ client: ctx.origin.iot, pageSize: ctx.pageSize }, { thingGroupName: name, recursive: false }),
        (page) => page.things,
      )) ?? []);
  let added = 0;
  const absent: string[] = [];
  for (const thingName of members) {
    // AddThingToThingGroup is idempotent; ResourceNotFound: the thing is not in the secondary.
    const done = await find(ctx, `AddThingToThingGroup ${name}/${thingName}`, () =>
      ctx.target.iot.send(new AddThingToThingGroupCommand({ thingGroupName: name, thingName })),
    );
    if (done) added++;
    else absent.push(thingName);
  }
  // ResourceNotFound can also name the group: one gone meanwhile must not pass for absent things.
  if (absent.length && !(await describeGroup(ctx, 'target', name))) {
    throw new RetryableError(`thing group ${name} disappeared from the secondary while its memberships were restored`, { context: { eventId: ctx.eventId } });
  }
  const children: Outcome[] = [];
  for (const child of await childGroups(ctx, 'origin', name)) children.push(...(await syncGroup(ctx, child, downward(depth))));
  await writeProperties(ctx, name, source, target);
  return { added, absent, children };
}

function membershipDetail(restored: Restored): string[] {
  const parts: string[] = [];
  if (restored.added || restored.absent.length) parts.push(`${restored.added} membership(s) restored from the primary`);
  if (restored.absent.length) {
    const shown = restored.absent.slice(0, 5).join(', ') + (restored.absent.length > 5 ? ', ...' : '');
    parts.push(`${restored.absent.length} member(s) not in the secondary yet, left to their own events and reconciliation: ${shown}`);
  }
  return parts;
}

const under = (parent: string | undefined) => (parent ? `under parent ${parent}` : 'without a parent');

/** Reports groups recreated along with `name`'s subtree as `updated` (they existed before). */
function relabelRecreated(outcomes: Outcome[], removed: ReadonlySet<string>, name: string): Outcome[] {
  return outcomes.map((o) => {
    if (o.kind !== 'thingGroup' || !removed.has(o.name)) return o;
    if (o.action === 'created') {
      const why = o.name === name ? 'recreated' : `recreated with ${name}`;
      return { ...o, action: 'updated', detail: `${why}${o.detail ? `: ${o.detail}` : ''}` };
    }
    if (o.action === 'unchanged' && o.detail === 'absent in both regions') return { ...o, action: 'deleted', detail: `deleted with ${name}'s subtree (absent in the primary)` };
    return o;
  });
}

async function syncGroup(ctx: ReplicationContext, name: string, depth: Depth): Promise<Outcome[]> {
  checkDepth(ctx, name, depth);
  const source = await describeGroup(ctx, 'origin', name);
  if (!source) return absentMeansDeleted(ctx) ? deleteGroup(ctx, name, depth) : [keptTargetOnly('thingGroup', name)];
  if (source.queryString) return [dynamicGroupSkipped(name)];
  const parent = source.thingGroupMetadata?.parentGroupName;
  const outcomes: Outcome[] = [];
  // Parents first: CreateThingGroup needs its parent to exist.
  if (parent && !(await describeGroup(ctx, 'target', parent))) outcomes.push(...(await syncGroup(ctx, parent, upward(depth))));

  let target = await describeGroup(ctx, 'target', name);
  let recreated: { readonly was: string | undefined; readonly removed: readonly string[] } | undefined;
  const targetParent = target?.thingGroupMetadata?.parentGroupName;
  if (target && (targetParent ?? '') !== (parent ?? '')) {
    // A group's parent is fixed at creation (UpdateThingGroup cannot change it): the primary
    // deleted and recreated the group, and the delete was missed. Recreate it here under the
    // primary's parent. Its child groups' parents are fixed too, so the whole secondary subtree
    // goes (children first) and comes back from the primary's definitions, memberships included.
    recreated = { was: targetParent, removed: await deleteSubtree(ctx, name, depth) };
    target = undefined;
  }

  if (!target) {
    let created: Outcome[];
    if (recreated && parent && recreated.removed.includes(parent)) {
      // The primary's parent was under this group in the secondary and went with it: it comes
      // back first, and brings this group back as its child.
      created = await syncGroup(ctx, name, upward(depth));
    } else {
      const description = source.thingGroupProperties?.thingGroupDescription;
      const attributes = source.thingGroupProperties?.attributePayload?.attributes ?? {};
      try {
        await ctx.target.iot.send(
          new CreateThingGroupCommand({
            thingGroupName: name,
            parentGroupName: parent,
            thingGroupProperties: { ...(description ? { thingGroupDescription: description } : {}), attributePayload: { attributes } },
          }),
        );
      } catch (error) {
        if (!isAlreadyExists(error)) await call(ctx, `CreateThingGroup ${name}`, () => Promise.reject(error));
        // Another execution created it meanwhile: converge that one.
        return [...outcomes, ...(await syncGroup(ctx, name, upward(depth)))];
      }
      // A group missing in the secondary may have been deleted by an unfinished recreation, so
      // memberships and child groups are always restored from the primary.
      const restored = await restoreGroup(ctx, name, source, undefined, depth);
      const detail = recreated
        ? [`recreated ${under(parent)} (${recreated.was ? `was under ${recreated.was}` : 'had no parent'})`, ...membershipDetail(restored)].join('; ')
        : [...(parent ? [`parent ${parent}`] : []), ...membershipDetail(restored)].join('; ');
      created = [{ kind: 'thingGroup', name, action: recreated ? 'updated' : 'created', ...(detail ? { detail } : {}) }, ...restored.children];
    }
    if (!recreated) return [...outcomes, ...created];
    const removed = new Set(recreated.removed);
    outcomes.push(...relabelRecreated(created, removed, name));
    // Groups the secondary had under this one that the primary keeps elsewhere (or lost):
    // each is recreated where the primary has it, or stays deleted.
    for (const other of recreated.removed) {
      if (outcomes.some((o) => o.kind === 'thingGroup' && o.name === other)) continue;
      outcomes.push(...relabelRecreated(await syncGroup(ctx, other, downward(depth)), removed, name));
    }
    return outcomes;
  }

  if (target.version === 1) {
    // Created, but the final update of restoreGroup never ran (it raises the version): finish it.
    const restored = await restoreGroup(ctx, name, source, target, depth);
    const detail = ['creation finished', ...membershipDetail(restored)].join('; ');
    outcomes.push({ kind: 'thingGroup', name, action: 'updated', detail }, ...restored.children);
    return outcomes;
  }
  if (sameGroup(source, target)) {
    if (!outcomes.some((o) => o.name === name)) outcomes.push({ kind: 'thingGroup', name, action: 'unchanged' });
    return outcomes;
  }
  await writeProperties(ctx, name, source, target);
  outcomes.push({ kind: 'thingGroup', name, action: 'updated' });
  return outcomes;
}

/**
 * Makes the secondary's thing group match the primary's: description, attributes (removals
 * included) and parent (missing parents created first). A group created in the secondary gets the
 * primary's memberships and child groups too. A group whose parent differs (fixed at creation in
 * AWS IoT) is recreated under the primary's parent with its whole subtree, memberships restored
 * from the primary. Deleted when the primary lost it (child groups converged first).
 */
export async function syncThingGroup(ctx: ReplicationContext, name: string, options: SyncThingGroupOptions = {}): Promise<Outcome[]> {
  if (ctx.conflicts === 'merge' && ctx.changes && options.eventTimeMs !== undefined) {
    // The conflict rule (delete vs change) for the group the event names; the groups a sync
    // reaches through it (parents, children) converge on the origin as before.
    const resource = { kind: 'thingGroup', name } as const;
    const [source, target] = [await describeGroup(ctx, 'origin', name), await describeGroup(ctx, 'target', name)];
    const decided = !source && target && absentMeansDeleted(ctx)
      ? await targetChangeWins(ctx, resource, options.eventTimeMs)
      : source && !target
        ? await targetDeleteWins(ctx, resource, options.eventTimeMs)
        : undefined;
    if (decided) return [decided];
  }
  return syncGroup(ctx, name, { up: 0, down: 0 });
}

/** Options of `syncThingGroup` and `syncThingGroupMembership`. */
export interface SyncThingGroupOptions {
  /**
   * Epoch milliseconds of the origin's THING_GROUP_EVENT (or ADDED membership event). Policy
   * `merge`: a group (a member thing) the target deleted at or after it is not re-created; on a
   * DELETED event, a group the target created or updated after it is not deleted
   * (docs/replication.md, "Conflict rule").
   */
  readonly eventTimeMs?: number;
}

async function groupsOfThing(ctx: ReplicationContext, side: 'origin' | 'target', thingName: string): Promise<string[] | undefined> {
  const groups = await findAll(
    ctx,
    `ListThingGroupsForThing ${thingName} (${side})`,
    paginateListThingGroupsForThing({ client: ctx[side].iot, pageSize: ctx.pageSize }, { thingName }),
    (page) => page.thingGroups,
  );
  return groups?.map((g) => g.groupName as string);
}

/**
 * Makes the membership of `thingName` in `groupName` in the secondary match the primary's:
 * added (the group replicated first when missing) or removed. A thing not yet in the secondary is
 * created from the primary first (registry entry only: {@link ensureThing}).
 */
export async function syncThingGroupMembership(
  ctx: ReplicationContext,
  groupName: string,
  thingName: string,
  options: SyncThingGroupOptions = {},
): Promise<Outcome[]> {
  const name = `${groupName}/${thingName}`;
  const group = await describeGroup(ctx, 'origin', groupName);
  if (group?.queryString) return [{ kind: 'membership', name, action: 'skipped', detail: 'dynamic thing group: membership is computed by the index' }];
  const member = ((await groupsOfThing(ctx, 'origin', thingName)) ?? []).includes(groupName);
  const current = await groupsOfThing(ctx, 'target', thingName);
  if (!member) {
    if (!current?.includes(groupName)) return [{ kind: 'membership', name, action: 'unchanged' }];
    await find(ctx, `RemoveThingFromThingGroup ${name}`, () =>
      ctx.target.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: groupName, thingName })),
    );
    return [{ kind: 'membership', name, action: 'deleted' }];
  }
  if (current?.includes(groupName)) return [{ kind: 'membership', name, action: 'unchanged' }];
  const outcomes: Outcome[] = [];
  if (current === undefined || !(await find(ctx, `DescribeThing ${thingName}`, () => ctx.target.iot.send(new DescribeThingCommand({ thingName }))))) {
    // Policy merge: the target deleted the thing at or after the origin added it to the group
    // (an ADDED membership counts as a change of the thing): the delete wins, nothing comes back.
    // Without an event (a drift pass): the target's last delete of the thing, unless the origin
    // changed it since (an ADDED membership included).
    const thing = { kind: 'thing', name: thingName } as const;
    const deleted = options.eventTimeMs !== undefined ? await targetDeleteWins(ctx, thing, options.eventTimeMs) : await targetDeleteStands(ctx, thing);
    if (deleted) return [{ ...deleted, kind: 'membership', name }];
    // The membership arrived before the thing's own event: the origin has the thing (it is a
    // member there), so create its registry entry (type, attributes) from it now. Its
    // certificates stay with worker-thing (its own event) and reconciliation, so the group worker
    // needs no certificate or policy permission.
    const created = await ensureThing(ctx, thingName);
    if (!created) {
      throw new RetryableError(`thing ${thingName} disappeared from the origin while its membership in ${groupName} was replicated`, {
        context: { thingName, eventId: ctx.eventId },
      });
    }
    outcomes.push(...created);
  }
  if (!(await describeGroup(ctx, 'target', groupName))) outcomes.push(...(await syncThingGroup(ctx, groupName)));
  await call(ctx, `AddThingToThingGroup ${name}`, () =>
    ctx.target.iot.send(new AddThingToThingGroupCommand({ thingGroupName: groupName, thingName })),
  );
  outcomes.push({ kind: 'membership', name, action: 'created' });
  return outcomes;
}
