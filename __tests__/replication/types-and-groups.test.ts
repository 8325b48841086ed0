// Thing types (THING_TYPE_EVENT), thing groups (THING_GROUP_EVENT), memberships
// (THING_GROUP_MEMBERSHIP_EVENT) and hierarchy (THING_GROUP_HIERARCHY_EVENT) against moto.
import {
  DeleteThingGroupCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  ListThingGroupsForThingCommand,
  RemoveThingFromThingGroupCommand,
  UpdateThingGroupCommand,
} from '@aws-sdk/client-iot';
import { applyEvent } from '../../functions/lib/replication';
import {
  addToGroup,
  createGroup,
  createThing,
  createThingType,
  describeGroup,
  describeThing,
  describeType,
  hierarchyEvent,
  membershipEvent,
  PRIMARY,
  thingEvent,
  thingGroupEvent,
  thingTypeEvent,
  twoRegions,
} from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint, { mode: 'thing-only' });
});
afterAll(() => moto?.stop());
beforeEach(() => moto.reset());

const groupsOf = async (thing: string) =>
  ((await env.secondary.iot.send(new ListThingGroupsForThingCommand({ thingName: thing }))).thingGroups ?? []).map((g) => g.groupName);

describe('Replication: thing types', () => {
  it('replicates CREATED with description and searchable attributes, UPDATED deprecate/undeprecate, DELETED', async () => {
    // CREATED
    await createThingType(env.primary, 'meter', { description: 'Power meters', searchableAttributes: ['site', 'model'] });
    const created = await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'CREATED', { name: 'meter', description: 'Power meters' }), 'e-1');
    expect(created).toEqual([{ kind: 'thingType', name: 'meter', action: 'created' }]);
    expect(await describeType(env.secondary, 'meter')).toMatchObject({
      thingTypeProperties: { thingTypeDescription: 'Power meters', searchableAttributes: ['site', 'model'] },
      thingTypeMetadata: { deprecated: false },
    });

    // UPDATED: deprecated
    await env.primary.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'meter' }));
    const deprecated = await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'UPDATED', { name: 'meter', deprecated: true }), 'e-2');
    expect(deprecated).toEqual([{ kind: 'thingType', name: 'meter', action: 'updated', detail: 'deprecated' }]);
    expect((await describeType(env.secondary, 'meter'))?.thingTypeMetadata?.deprecated).toBe(true);

    // UPDATED: undeprecated
    await env.primary.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'meter', undoDeprecate: true }));
    await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'UPDATED', { name: 'meter', deprecated: false }), 'e-3');
    expect((await describeType(env.secondary, 'meter'))?.thingTypeMetadata?.deprecated).toBe(false);

    // A duplicate is a no-op
    expect(await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'UPDATED', { name: 'meter' }), 'e-3')).toEqual([
      { kind: 'thingType', name: 'meter', action: 'unchanged' },
    ]);

    // DELETED (deprecated first in the secondary; moto does not enforce AWS's 5-minute wait)
    await env.primary.iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'meter' }));
    await env.primary.iot.send(new DeleteThingTypeCommand({ thingTypeName: 'meter' }));
    const deleted = await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'DELETED', { name: 'meter', deprecated: true }), 'e-4');
    expect(deleted).toEqual([{ kind: 'thingType', name: 'meter', action: 'deleted' }]);
    expect(await describeType(env.secondary, 'meter')).toBeUndefined();
    // and again: nothing to do
    expect(await applyEvent(env.ctx, thingTypeEvent(PRIMARY, 'DELETED', { name: 'meter' }), 'e-4')).toEqual([
      { kind: 'thingType', name: 'meter', action: 'unchanged', detail: 'absent in both regions' },
    ]);
  });
});

describe('Replication: thing groups', () => {
  it('replicates a nested group with its missing parents first, description and attributes', async () => {
    await createGroup(env.primary, 'root', { description: 'All', attributes: { tier: '0' } });
    await createGroup(env.primary, 'eu', { parent: 'root', attributes: { tier: '1' } });
    await createGroup(env.primary, 'paris', { parent: 'eu', description: 'Paris', attributes: { city: 'paris', tier: '2' } });

    // Only the leaf's event arrives (the others are late or lost)
    const outcomes = await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'CREATED', { name: 'paris', parent: 'eu', rootToParent: ['root', 'eu'] }), 'e-1');

    expect(outcomes.map((o) => `${o.name}:${o.action}`)).toEqual(['root:created', 'eu:created', 'paris:created']);
    expect(await describeGroup(env.secondary, 'paris')).toMatchObject({
      thingGroupProperties: { thingGroupDescription: 'Paris', attributePayload: { attributes: { city: 'paris', tier: '2' } } },
      thingGroupMetadata: { parentGroupName: 'eu', rootToParentThingGroups: [expect.objectContaining({ groupName: 'root' }), expect.objectContaining({ groupName: 'eu' })] },
    });
    expect((await describeGroup(env.secondary, 'root'))?.thingGroupProperties?.thingGroupDescription).toBe('All');
  });

  it('replicates UPDATED (attribute removal, description change) and DELETED', async () => {
    await createGroup(env.primary, 'g', { description: 'old', attributes: { a: '1', b: '2' } });
    await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'CREATED', { name: 'g' }), 'e-1');

    await env.primary.iot.send(
      new UpdateThingGroupCommand({ thingGroupName: 'g', thingGroupProperties: { thingGroupDescription: 'new', attributePayload: { attributes: { a: '1' }, merge: false } } }),
    );
    const updated = await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'UPDATED', { name: 'g', version: 2 }), 'e-2');
    expect(updated).toEqual([{ kind: 'thingGroup', name: 'g', action: 'updated' }]);
    expect((await describeGroup(env.secondary, 'g'))?.thingGroupProperties).toEqual({ thingGroupDescription: 'new', attributePayload: { attributes: { a: '1' } } });

    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'g' }));
    expect(await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'DELETED', { name: 'g' }), 'e-3')).toEqual([{ kind: 'thingGroup', name: 'g', action: 'deleted' }]);
    expect(await describeGroup(env.secondary, 'g')).toBeUndefined();
  });

  it('replicates hierarchy ADDED and REMOVED (child deleted in the primary)', async () => {
    await createGroup(env.primary, 'parent');
    await createGroup(env.primary, 'child', { parent: 'parent' });
    await applyEvent(env.ctx, hierarchyEvent(PRIMARY, 'ADDED', 'parent', 'child'), 'e-1');
    expect((await describeGroup(env.secondary, 'child'))?.thingGroupMetadata?.parentGroupName).toBe('parent');

    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'child' }));
    await applyEvent(env.ctx, hierarchyEvent(PRIMARY, 'REMOVED', 'parent', 'child'), 'e-2');
    expect(await describeGroup(env.secondary, 'child')).toBeUndefined();
    expect(await describeGroup(env.secondary, 'parent')).toBeDefined();
  });

  it('deletes a parent group after converging its children when the primary lost both', async () => {
    await createGroup(env.primary, 'top');
    await createGroup(env.primary, 'sub', { parent: 'top' });
    await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'CREATED', { name: 'sub', parent: 'top' }), 'e-1');
    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'sub' }));
    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'top' }));

    // The parent's DELETED event arrives before the child's
    const outcomes = await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'DELETED', { name: 'top' }), 'e-2');
    expect(outcomes.map((o) => `${o.name}:${o.action}`)).toEqual(['sub:deleted', 'top:deleted']);
    expect(await applyEvent(env.ctx, thingGroupEvent(PRIMARY, 'DELETED', { name: 'sub', parent: 'top' }), 'e-3')).toEqual([
      { kind: 'thingGroup', name: 'sub', action: 'unchanged', detail: 'absent in both regions' },
    ]);
  });

  it('replicates membership ADDED (group created on the way; waits for the thing) and REMOVED, names parsed from ARNs', async () => {
    await createGroup(env.primary, 'fleet-a');
    await createThing(env.primary, 'm-1', { attributes: { x: '1' } });
    await addToGroup(env.primary, 'fleet-a', 'm-1');
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'm-1' }), 'e-0');

    const added = await applyEvent(env.ctx, membershipEvent(PRIMARY, 'ADDED', 'fleet-a', 'm-1'), 'e-1');
    expect(added.map((o) => `${o.kind}:${o.name}:${o.action}`)).toEqual(['thingGroup:fleet-a:created', 'membership:fleet-a/m-1:created']);
    expect(await groupsOf('m-1')).toEqual(['fleet-a']);

    // duplicate
    expect(await applyEvent(env.ctx, membershipEvent(PRIMARY, 'ADDED', 'fleet-a', 'm-1'), 'e-1')).toEqual([
      { kind: 'membership', name: 'fleet-a/m-1', action: 'unchanged' },
    ]);

    await env.primary.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'fleet-a', thingName: 'm-1' }));
    expect(await applyEvent(env.ctx, membershipEvent(PRIMARY, 'REMOVED', 'fleet-a', 'm-1'), 'e-2')).toEqual([
      { kind: 'membership', name: 'fleet-a/m-1', action: 'deleted' },
    ]);
    expect(await groupsOf('m-1')).toEqual([]);
  });

  it('Given a membership event that arrives before its thing, When it is applied, Then the thing is created from the primary (type, attributes) and added at once; its own event later converges with no second create', async () => {
    await createGroup(env.primary, 'early-g');
    await createThingType(env.primary, 'early-type');
    await createThing(env.primary, 'early-t', { type: 'early-type', attributes: { x: '1' } });
    await addToGroup(env.primary, 'early-g', 'early-t');

    const added = await applyEvent(env.ctx, membershipEvent(PRIMARY, 'ADDED', 'early-g', 'early-t'), 'e-1');
    expect(added.map((o) => `${o.kind}:${o.name}:${o.action}`)).toEqual([
      'thingType:early-type:created',
      'thing:early-t:created',
      'thingGroup:early-g:created',
      'membership:early-g/early-t:created',
    ]);
    expect(await describeThing(env.secondary, 'early-t')).toMatchObject({ thingTypeName: 'early-type', attributes: { x: '1' } });
    expect(await groupsOf('early-t')).toEqual(['early-g']);
    // The thing's own event: the registry entry is already there (no second create).
    const own = await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'early-t', timestamp: Date.now() - 3_600_000 }), 'e-0');
    expect(own.filter((o) => o.kind === 'thing' || o.kind === 'thingType').map((o) => o.action)).toEqual(['unchanged']);
  });

  it('a late ADDED after REMOVED converges to the primary (not a member)', async () => {
    await createGroup(env.primary, 'g2');
    await createThing(env.primary, 't2');
    // Primary: added then removed. Events arrive REMOVED first, then ADDED.
    await applyEvent(env.ctx, membershipEvent(PRIMARY, 'REMOVED', 'g2', 't2'), 'e-2');
    await applyEvent(env.ctx, membershipEvent(PRIMARY, 'ADDED', 'g2', 't2'), 'e-1');
    expect(await describeThing(env.secondary, 't2')).toBeUndefined();
    expect(await describeGroup(env.secondary, 'g2')).toBeUndefined();
  });
});
