import {
  AddThingToThingGroupCommand,
  CreateThingGroupCommand,
  DeleteThingGroupCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  RemoveThingFromThingGroupCommand,
  UpdateThingGroupCommand,
  type DescribeThingGroupCommandOutput,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { all, call, find, findAll, sameMap } from './call';
import type { Outcome, ReplicationContext } from './context';

/** Hierarchies are at most 7 levels deep in AWS IoT; the bound stops a cycle in bad data. */
const MAX_DEPTH = 8;

async function describeGroup(ctx: ReplicationContext, side: 'primary' | 'secondary', name: string) {
  return find(ctx, `DescribeThingGroup ${name} (${side})`, () => ctx[side].iot.send(new DescribeThingGroupCommand({ thingGroupName: name })));
}

async function childGroups(ctx: ReplicationContext, name: string): Promise<string[]> {
  const groups = await all(ctx, `ListThingGroups parent=${name}`, async (nextToken) => {
    const page = await ctx.secondary.iot.send(new ListThingGroupsCommand({ parentGroup: name, nextToken, maxResults: ctx.pageSize }));
    return { items: page.thingGroups, next: page.nextToken };
  });
  return groups.map((g) => g.groupName as string);
}

async function deleteGroup(ctx: ReplicationContext, name: string, depth: number): Promise<Outcome[]> {
  const target = await describeGroup(ctx, 'secondary', name);
  if (!target) return [{ kind: 'thingGroup', name, action: 'unchanged', detail: 'absent in both regions' }];
  // AWS refuses to delete a group with child groups: converge the children first (each one is
  // deleted only if the primary lost it too).
  const outcomes: Outcome[] = [];
  for (const child of await childGroups(ctx, name)) outcomes.push(...(await syncGroup(ctx, child, depth + 1)));
  try {
    await ctx.secondary.iot.send(new DeleteThingGroupCommand({ thingGroupName: name }));
  } catch (error) {
    if (awsErrorName(error) === 'InvalidRequestException') {
      throw new RetryableError(`DeleteThingGroup ${name}: refused (child groups remain)`, { cause: error });
    }
    await find(ctx, `DeleteThingGroup ${name}`, () => Promise.reject(error));
  }
  outcomes.push({ kind: 'thingGroup', name, action: 'deleted' });
  return outcomes;
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

async function syncGroup(ctx: ReplicationContext, name: string, depth: number): Promise<Outcome[]> {
  if (depth > MAX_DEPTH) throw new RetryableError(`thing group hierarchy deeper than ${MAX_DEPTH} at ${name}`);
  const source = await describeGroup(ctx, 'primary', name);
  if (!source) return deleteGroup(ctx, name, depth);
  if (source.queryString) return [dynamicGroupSkipped(name)];
  const parent = source.thingGroupMetadata?.parentGroupName;
  const outcomes: Outcome[] = [];
  // Parents first: CreateThingGroup needs its parent to exist.
  if (parent && !(await describeGroup(ctx, 'secondary', parent))) outcomes.push(...(await syncGroup(ctx, parent, depth + 1)));

  const description = source.thingGroupProperties?.thingGroupDescription;
  const attributes = source.thingGroupProperties?.attributePayload?.attributes ?? {};
  const target = await describeGroup(ctx, 'secondary', name);
  if (!target) {
    try {
      await ctx.secondary.iot.send(
        new CreateThingGroupCommand({
          thingGroupName: name,
          parentGroupName: parent,
          thingGroupProperties: { ...(description ? { thingGroupDescription: description } : {}), attributePayload: { attributes } },
        }),
      );
      outcomes.push({ kind: 'thingGroup', name, action: 'created', detail: parent ? `parent ${parent}` : undefined });
      return outcomes;
    } catch (error) {
      if (!isAlreadyExists(error)) await call(ctx, `CreateThingGroup ${name}`, () => Promise.reject(error));
      return [...outcomes, ...(await syncGroup(ctx, name, depth + 1))];
    }
  }
  const targetParent = target.thingGroupMetadata?.parentGroupName;
  if ((targetParent ?? '') !== (parent ?? '')) {
    // A group's parent is fixed at creation; a different parent means the primary deleted and
    // recreated it and the delete was missed. Recreating here would drop its memberships, so this
    // is reported for reconciliation rather than done silently.
    outcomes.push({ kind: 'thingGroup', name, action: 'skipped', detail: `parent is ${targetParent ?? 'none'} in the secondary, ${parent ?? 'none'} in the primary` });
  }
  if (sameGroup(source, target)) {
    if (!outcomes.some((o) => o.name === name)) outcomes.push({ kind: 'thingGroup', name, action: 'unchanged' });
    return outcomes;
  }
  await call(ctx, `UpdateThingGroup ${name}`, () =>
    ctx.secondary.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName: name,
        // merge=false replaces the whole set: attributes removed in the primary disappear too.
        thingGroupProperties: { thingGroupDescription: description ?? '', attributePayload: { attributes, merge: false } },
      }),
    ),
  );
  outcomes.push({ kind: 'thingGroup', name, action: 'updated' });
  return outcomes;
}

/**
 * Makes the secondary's thing group match the primary's: description, attributes (removals
 * included) and parent (missing parents created first); deleted when the primary lost it
 * (child groups converged first).
 */
export async function syncThingGroup(ctx: ReplicationContext, name: string): Promise<Outcome[]> {
  return syncGroup(ctx, name, 0);
}

async function groupsOfThing(ctx: ReplicationContext, side: 'primary' | 'secondary', thingName: string): Promise<string[] | undefined> {
  const groups = await findAll(ctx, `ListThingGroupsForThing ${thingName} (${side})`, async (nextToken) => {
    const page = await ctx[side].iot.send(new ListThingGroupsForThingCommand({ thingName, nextToken, maxResults: ctx.pageSize }));
    return { items: page.thingGroups, next: page.nextToken };
  });
  return groups?.map((g) => g.groupName as string);
}

/**
 * Makes the membership of `thingName` in `groupName` in the secondary match the primary's:
 * added (the group replicated first when missing) or removed. A thing not yet in the secondary
 * throws `RetryableError`: its own THING_EVENT creates it, usually within seconds.
 */
export async function syncThingGroupMembership(ctx: ReplicationContext, groupName: string, thingName: string): Promise<Outcome[]> {
  const name = `${groupName}/${thingName}`;
  const group = await describeGroup(ctx, 'primary', groupName);
  if (group?.queryString) return [{ kind: 'membership', name, action: 'skipped', detail: 'dynamic thing group: membership is computed by the index' }];
  const member = ((await groupsOfThing(ctx, 'primary', thingName)) ?? []).includes(groupName);
  const current = await groupsOfThing(ctx, 'secondary', thingName);
  if (!member) {
    if (!current?.includes(groupName)) return [{ kind: 'membership', name, action: 'unchanged' }];
    await find(ctx, `RemoveThingFromThingGroup ${name}`, () =>
      ctx.secondary.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: groupName, thingName })),
    );
    return [{ kind: 'membership', name, action: 'deleted' }];
  }
  if (current?.includes(groupName)) return [{ kind: 'membership', name, action: 'unchanged' }];
  // The thing (with its certificates) is worker-thing's job: wait for it rather than copy it here,
  // which would need every certificate and policy permission in the group worker too.
  if (current === undefined || !(await find(ctx, `DescribeThing ${thingName}`, () => ctx.secondary.iot.send(new DescribeThingCommand({ thingName }))))) {
    throw new RetryableError(`thing ${thingName} is not replicated yet: membership in ${groupName} waits for it`, { context: { thingName, eventId: ctx.eventId } });
  }
  const outcomes: Outcome[] = [];
  if (!(await describeGroup(ctx, 'secondary', groupName))) outcomes.push(...(await syncThingGroup(ctx, groupName)));
  await call(ctx, `AddThingToThingGroup ${name}`, () =>
    ctx.secondary.iot.send(new AddThingToThingGroupCommand({ thingGroupName: groupName, thingName })),
  );
  outcomes.push({ kind: 'membership', name, action: 'created' });
  return outcomes;
}
