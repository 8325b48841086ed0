// Thing-group HIERARCHY drift against moto (two regions): a secondary group whose parent differs
// from the primary's (the primary deleted and recreated it, and the delete was missed) is
// recreated under the primary's parent with its whole subtree, memberships restored from the
// primary; `iot-dr verify`'s diff then shows no `hierarchy` difference. Partial repairs converge
// on the next run.
import {
  AddThingToThingGroupCommand,
  CreateThingGroupCommand,
  DeleteThingGroupCommand,
  DescribeThingGroupCommand,
  ListThingGroupsCommand,
  ListThingsInThingGroupCommand,
  ResourceNotFoundException,
  ThrottlingException,
  UpdateThingGroupCommand,
} from '@aws-sdk/client-iot';
import { mockClient } from 'aws-sdk-client-mock';
import { diffSnapshots, snapshotRegion } from '../../functions/lib/fleet';
import { applyEvent, createContext, syncThingGroup, type ReplicationContext } from '../../functions/lib/replication';
import { addToGroup, createGroup, createThing, describeGroup, hierarchyEvent, PRIMARY, SECONDARY, silentLogger, twoRegions, type Side } from '../support/fleet';
import { motoIot, startMoto, type Moto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint, { mode: 'thing-only', pageSize: 1 });
});
afterAll(() => moto?.stop());
beforeEach(() => moto.reset());

const membersOf = async (side: Side, group: string) =>
  ((await side.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group }))).things ?? []).sort();
const parentOf = async (side: Side, group: string) => (await describeGroup(side, group))?.thingGroupMetadata?.parentGroupName ?? null;

/** Every difference `iot-dr verify` (thing-only mode, no shadows) reports, as kind:resource:name. */
async function verifyDifferences(): Promise<string[]> {
  const options = { shadows: false, principals: false };
  const [p, s] = await Promise.all([snapshotRegion(env.primary, options), snapshotRegion(env.secondary, options)]);
  return diffSnapshots(p, s).map((d) => `${d.kind}:${d.resource}:${d.name}`).sort();
}

/**
 * Both regions start with the same hierarchy, replicated by the library: A and B at the top, G
 * under A (members t-g1, t-old), C under G (member t-c1), D under C, E under G. Then the primary
 * deletes G's subtree and recreates G under B, C under G and E under A, with G's members now
 * t-g1, t-g2 and t-g3 (t-g3 is a new thing, not replicated yet); the delete events are missed.
 */
async function replicatedThenMoved(): Promise<void> {
  const p = env.primary;
  await createGroup(p, 'A');
  await createGroup(p, 'B');
  await createGroup(p, 'G', { parent: 'A', description: 'old', attributes: { zone: 'a' } });
  await createGroup(p, 'C', { parent: 'G', attributes: { tier: '2' } });
  await createGroup(p, 'D', { parent: 'C' });
  await createGroup(p, 'E', { parent: 'G' });
  for (const side of [env.primary, env.secondary]) for (const t of ['t-g1', 't-g2', 't-c1', 't-old']) await createThing(side, t);
  await addToGroup(p, 'G', 't-g1');
  await addToGroup(p, 'G', 't-old');
  await addToGroup(p, 'C', 't-c1');
  // A group created in the secondary gets its child groups and memberships from the primary
  expect((await syncThingGroup(env.ctx, 'A')).map((o) => `${o.name}:${o.action}`)).toEqual(['A:created', 'G:created', 'C:created', 'D:created', 'E:created']);
  expect(await syncThingGroup(env.ctx, 'B')).toEqual([{ kind: 'thingGroup', name: 'B', action: 'created' }]);
  expect(await verifyDifferences()).toEqual([]);

  for (const g of ['D', 'C', 'E', 'G']) await p.iot.send(new DeleteThingGroupCommand({ thingGroupName: g }));
  await createGroup(p, 'G', { parent: 'B', description: 'moved', attributes: { zone: 'b' } });
  await createGroup(p, 'C', { parent: 'G', attributes: { tier: '2' } });
  await createGroup(p, 'E', { parent: 'A' });
  await createThing(p, 't-g3');
  for (const t of ['t-g1', 't-g2', 't-g3']) await addToGroup(p, 'G', t);
  await addToGroup(p, 'C', 't-c1');
}

async function expectConverged(): Promise<void> {
  const s = env.secondary;
  expect(await parentOf(s, 'G')).toBe('B');
  expect(await parentOf(s, 'C')).toBe('G');
  expect((await describeGroup(s, 'G'))?.thingGroupProperties).toEqual({ thingGroupDescription: 'moved', attributePayload: { attributes: { zone: 'b' } } });
  expect((await describeGroup(s, 'C'))?.thingGroupProperties?.attributePayload?.attributes).toEqual({ tier: '2' });
  expect(await membersOf(s, 'G')).toEqual(['t-g1', 't-g2']);
  expect(await membersOf(s, 'C')).toEqual(['t-c1']);
}

describe('thing group hierarchy drift', () => {
  it('recreates the group under the primary parent with its whole subtree, memberships from the primary; verify shows no hierarchy difference', async () => {
    await replicatedThenMoved();
    expect(await verifyDifferences()).toEqual([
      'attributes:thingGroup:G',
      'extra:thingGroup:D',
      'group:thing:t-g2',
      'group:thing:t-old',
      'hierarchy:thingGroup:E',
      'hierarchy:thingGroup:G',
      'missing:thing:t-g3',
    ]);
    // moto, like AWS, refuses to delete a group that still has child groups: children go first.
    await expect(env.secondary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'G' }))).rejects.toMatchObject({ name: 'InvalidRequestException' });

    const outcomes = await syncThingGroup(env.ctx, 'G');

    expect(outcomes).toEqual([
      {
        kind: 'thingGroup',
        name: 'G',
        action: 'updated',
        detail:
          'recreated under parent B (was under A); 2 membership(s) restored from the primary; ' +
          '1 member(s) not in the secondary yet, left to their own events and reconciliation: t-g3',
      },
      { kind: 'thingGroup', name: 'C', action: 'updated', detail: 'recreated with G: parent G; 1 membership(s) restored from the primary' },
      // D exists only in the secondary: it stays deleted
      { kind: 'thingGroup', name: 'D', action: 'deleted', detail: "deleted with G's subtree (absent in the primary)" },
      // E is under A in the primary: recreated there
      { kind: 'thingGroup', name: 'E', action: 'updated', detail: 'recreated with G: parent A' },
    ]);
    await expectConverged();
    expect(await describeGroup(env.secondary, 'D')).toBeUndefined();
    expect(await parentOf(env.secondary, 'E')).toBe('A');
    // t-old lost its membership with the old G (the primary does not have it); t-g3 waits for its own event
    expect(await verifyDifferences()).toEqual(['missing:thing:t-g3']);

    // Idempotent: a second run changes nothing
    expect(await syncThingGroup(env.ctx, 'G')).toEqual([{ kind: 'thingGroup', name: 'G', action: 'unchanged' }]);
  });

  it.each([
    { case: 'no parent in the primary, a parent in the secondary', primaryParent: undefined, secondaryParent: 'A', detail: 'recreated without a parent (was under A)' },
    { case: 'a parent in the primary, none in the secondary', primaryParent: 'A', secondaryParent: undefined, detail: 'recreated under parent A (had no parent)' },
  ])('converges $case', async ({ primaryParent, secondaryParent, detail }) => {
    for (const [side, parent] of [
      [env.primary, primaryParent],
      [env.secondary, secondaryParent],
    ] as const) {
      await createGroup(side, 'A');
      await createGroup(side, 'G', { parent, attributes: { k: 'v' } });
      await createThing(side, 'm-1');
      await addToGroup(side, 'G', 'm-1');
    }
    expect(await verifyDifferences()).toEqual(['hierarchy:thingGroup:G']);

    expect(await syncThingGroup(env.ctx, 'G')).toEqual([
      { kind: 'thingGroup', name: 'G', action: 'updated', detail: `${detail}; 1 membership(s) restored from the primary` },
    ]);
    expect(await parentOf(env.secondary, 'G')).toBe(primaryParent ?? null);
    expect(await membersOf(env.secondary, 'G')).toEqual(['m-1']);
    expect(await verifyDifferences()).toEqual([]);
  });

  it('converges an inverted hierarchy: the new parent was under the group in the secondary', async () => {
    // Both regions: A, G under A, X under G (replicated by the library). Then the primary makes X
    // the top and G its child.
    await createGroup(env.primary, 'A');
    await createGroup(env.primary, 'G', { parent: 'A' });
    await createGroup(env.primary, 'X', { parent: 'G', attributes: { k: 'x' } });
    for (const side of [env.primary, env.secondary]) await createThing(side, 'm-1');
    await addToGroup(env.primary, 'G', 'm-1');
    await syncThingGroup(env.ctx, 'A');
    expect(await verifyDifferences()).toEqual([]);
    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'X' }));
    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'G' }));
    await createGroup(env.primary, 'X', { attributes: { k: 'x' } });
    await createGroup(env.primary, 'G', { parent: 'X' });
    await addToGroup(env.primary, 'G', 'm-1');

    expect(await syncThingGroup(env.ctx, 'G')).toEqual([
      { kind: 'thingGroup', name: 'X', action: 'updated', detail: 'recreated with G' },
      { kind: 'thingGroup', name: 'G', action: 'updated', detail: 'recreated: parent X; 1 membership(s) restored from the primary' },
    ]);
    expect(await parentOf(env.secondary, 'X')).toBeNull();
    expect(await parentOf(env.secondary, 'G')).toBe('X');
    expect(await membersOf(env.secondary, 'G')).toEqual(['m-1']);
    expect(await verifyDifferences()).toEqual([]);
  });

  it('converges a partial repair: the subtree deleted by hand, or the group created but not finished', async () => {
    await replicatedThenMoved();
    // Stopped after deleting the subtree (children first)
    for (const g of ['D', 'C', 'E', 'G']) await env.secondary.iot.send(new DeleteThingGroupCommand({ thingGroupName: g }));

    const outcomes = await syncThingGroup(env.ctx, 'G');
    expect(outcomes.map((o) => `${o.name}:${o.action}`)).toEqual(['G:created', 'C:created']);
    expect(outcomes[0].detail).toMatch(/^parent B; 2 membership\(s\) restored from the primary; 1 member\(s\) not in the secondary yet/);
    await expectConverged();
    // E was under the old G in the secondary: it comes back from its own drift (reconciliation)
    expect(await verifyDifferences()).toEqual(['missing:thing:t-g3', 'missing:thingGroup:E']);

    // Stopped after CreateThingGroup, before memberships and children (the group is at version 1)
    await env.secondary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'C' }));
    await env.secondary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'G' }));
    await createGroup(env.secondary, 'G', { parent: 'B', description: 'moved', attributes: { zone: 'b' } });
    expect((await describeGroup(env.secondary, 'G'))?.version).toBe(1);

    expect((await syncThingGroup(env.ctx, 'G')).map((o) => `${o.name}:${o.action}:${o.detail?.split(';')[0]}`)).toEqual([
      'G:updated:creation finished',
      'C:created:parent G',
    ]);
    await expectConverged();
    expect(await verifyDifferences()).toEqual(['missing:thing:t-g3', 'missing:thingGroup:E']);
  });

  it('a throttled repair (a fault moto cannot produce, injected by SDK middleware) stays RetryableError, and the retries converge', async () => {
    await replicatedThenMoved();
    // The secondary client is the real one on moto; a middleware throws ThrottlingException once
    // for the first call of each named command, before the request is sent.
    const faulty = motoIot(moto.endpoint, SECONDARY);
    const failOnce = new Set(['CreateThingGroupCommand', 'AddThingToThingGroupCommand']);
    faulty.middlewareStack.add(
      (next, context) => async (args) => {
        if (failOnce.delete(context.commandName as string)) {
          throw new ThrottlingException({ message: 'Rate exceeded (injected)', $metadata: { httpStatusCode: 400 } });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injectThrottling' },
    );
    const ctx: ReplicationContext = { ...env.ctx, target: { ...env.ctx.target, iot: faulty } };

    // 1st run: the subtree is deleted, then CreateThingGroup G is throttled
    await expect(syncThingGroup(ctx, 'G')).rejects.toMatchObject({ name: 'RetryableError' });
    expect(await describeGroup(env.secondary, 'G')).toBeUndefined();
    expect(await describeGroup(env.secondary, 'C')).toBeUndefined();
    // 2nd run: G is created under B, then the first membership is throttled
    await expect(syncThingGroup(ctx, 'G')).rejects.toMatchObject({ name: 'RetryableError' });
    expect(await parentOf(env.secondary, 'G')).toBe('B');
    expect(await membersOf(env.secondary, 'G')).toEqual([]);
    // 3rd run: finished
    expect((await syncThingGroup(ctx, 'G')).map((o) => `${o.name}:${o.action}`)).toEqual(['G:updated', 'C:created']);
    await expectConverged();
    // E, which the secondary had under the old G, comes back from its own drift (reconciliation)
    expect(await describeGroup(env.secondary, 'E')).toBeUndefined();
    expect(await syncThingGroup(env.ctx, 'E')).toEqual([{ kind: 'thingGroup', name: 'E', action: 'created', detail: 'parent A' }]);
    expect(await verifyDifferences()).toEqual(['missing:thing:t-g3']);
  });

  it('a THING_GROUP_HIERARCHY_EVENT converges a drifted child (live replication)', async () => {
    await replicatedThenMoved();
    const outcomes = await applyEvent(env.ctx, hierarchyEvent(PRIMARY, 'ADDED', 'B', 'G'), 'e-1');
    expect(outcomes.map((o) => `${o.name}:${o.action}`)).toEqual(['B:unchanged', 'G:updated', 'C:updated', 'D:deleted', 'E:updated']);
    await expectConverged();
    expect(await verifyDifferences()).toEqual(['missing:thing:t-g3']);
  });
});

// moto answers ListThingsInThingGroup and ListThingGroups in one page whatever the page size, so
// paging is shown with aws-sdk-client-mock on the two clients of a context of their own.
describe('restoreMembershipsOnCreate (off for iot-dr copy, which syncs memberships per thing)', () => {
  it.each([
    [true, ['t1']],
    [false, []],
  ])('%s: a group created in the secondary gets the primary memberships %j', async (restore, expected) => {
    const ctx = { ...env.ctx, restoreMembershipsOnCreate: restore };
    await createGroup(env.primary, 'G');
    for (const side of [env.primary, env.secondary]) await createThing(side, 't1');
    await addToGroup(env.primary, 'G', 't1');
    const outcomes = await syncThingGroup(ctx, 'G');
    expect(outcomes.map((o) => `${o.name}:${o.action}`)).toEqual(['G:created']);
    expect(await membersOf(env.secondary, 'G')).toEqual(expected);
    // finished either way (past version 1): the next sync changes nothing
    expect((await syncThingGroup(ctx, 'G')).map((o) => `${o.name}:${o.action}`)).toEqual(['G:unchanged']);
  });
});

describe('thing group hierarchy drift: paging (aws-sdk-client-mock, moto does not paginate these listings)', () => {
  it('restores the members of every page of the primary group, reads every page of its child groups', async () => {
    const ctx = createContext({
      originRegion: PRIMARY,
      targetRegion: SECONDARY,
      mode: 'thing-only',
      endpoint: 'http://127.0.0.1:9', // never reached: both clients are mocked
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      logger: silentLogger(),
      pageSize: 2,
    });
    const primary = mockClient(ctx.origin.iot);
    const secondary = mockClient(ctx.target.iot);
    try {
      primary.on(DescribeThingGroupCommand, { thingGroupName: 'G' }).resolves({ thingGroupName: 'G', version: 4, thingGroupMetadata: { parentGroupName: 'B' } });
      // The SDK paginator reuses one input object across pages: keep a copy of each request.
      const listed: object[] = [];
      primary.on(ListThingsInThingGroupCommand).callsFake((input: { nextToken?: string }) => {
        listed.push({ ...input });
        const { nextToken } = input;
        return nextToken === undefined ? { things: ['t1', 't2'], nextToken: 'p2' } : nextToken === 'p2' ? { things: ['t3', 't4'], nextToken: 'p3' } : { things: ['t5'] };
      });
      primary.on(ListThingGroupsCommand).callsFake(({ nextToken }: { nextToken?: string }) => (nextToken === undefined ? { thingGroups: [], nextToken: 'c2' } : { thingGroups: [] }));
      secondary.on(DescribeThingGroupCommand, { thingGroupName: 'B' }).resolves({ thingGroupName: 'B', version: 2 });
      secondary
        .on(DescribeThingGroupCommand, { thingGroupName: 'G' })
        .resolvesOnce({ thingGroupName: 'G', version: 2, thingGroupMetadata: { parentGroupName: 'A' } })
        .resolves({ thingGroupName: 'G', version: 1, thingGroupMetadata: { parentGroupName: 'B' } });
      secondary.on(ListThingGroupsCommand).resolves({ thingGroups: [] });
      secondary.on(DeleteThingGroupCommand).resolves({});
      secondary.on(CreateThingGroupCommand).resolves({ thingGroupName: 'G' });
      secondary.on(AddThingToThingGroupCommand).resolves({});
      secondary.on(AddThingToThingGroupCommand, { thingName: 't4' }).rejects(new ResourceNotFoundException({ message: 'thing t4 not found', $metadata: {} }));
      secondary.on(UpdateThingGroupCommand).resolves({ version: 2 });

      expect(await syncThingGroup(ctx, 'G')).toEqual([
        {
          kind: 'thingGroup',
          name: 'G',
          action: 'updated',
          detail:
            'recreated under parent B (was under A); 4 membership(s) restored from the primary; ' +
            '1 member(s) not in the secondary yet, left to their own events and reconciliation: t4',
        },
      ]);
      expect(listed).toEqual([
        { thingGroupName: 'G', recursive: false, maxResults: 2, nextToken: undefined },
        { thingGroupName: 'G', recursive: false, maxResults: 2, nextToken: 'p2' },
        { thingGroupName: 'G', recursive: false, maxResults: 2, nextToken: 'p3' },
      ]);
      expect(secondary.commandCalls(AddThingToThingGroupCommand).map((c) => c.args[0].input.thingName)).toEqual(['t1', 't2', 't3', 't4', 't5']);
      expect(primary.commandCalls(ListThingGroupsCommand)).toHaveLength(2);
      expect(secondary.commandCalls(CreateThingGroupCommand)[0].args[0].input).toMatchObject({ thingGroupName: 'G', parentGroupName: 'B' });
      // Finished last: the update that takes the group past version 1
      expect(secondary.commandCalls(UpdateThingGroupCommand)).toHaveLength(1);
    } finally {
      primary.restore();
      secondary.restore();
    }
  });
});
