// Two-way replication end to end on moto (issue 10): each region's changes are captured (the
// capture rules emulated by a recording proxy, cli/drill/capture.ts: moto has no rules engine),
// delivered to the OTHER region's real stream trigger, which runs the batch through the deployed
// workflow shape (Express per batch + Standard slow lane, the real ASL on a local Step Functions
// endpoint, cli/drill/local-sfn.ts) with that direction's real worker handlers (the harness:
// __tests__/support/two-way.ts, shared with `npm run bench:cost -- --two-way`).
// Every round of captured changes is counted: executions per direction and writes (outcomes that
// changed something), which is how echo suppression is proven.
//
// moto differs from AWS on shadow metadata: moto stamps EVERY field with the time of the last
// update, AWS keeps each field's own time. Split-brain cases here therefore edit whole documents a
// second apart; the per-field rule is covered on AWS-shaped documents in
// __tests__/replication/conflicts.test.ts.
import { DeleteThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { DeleteThingCommand, DeleteThingGroupCommand, DeleteThingTypeCommand, DeprecateThingTypeCommand, ListThingGroupsForThingCommand, UpdateThingCommand, UpdateThingGroupCommand } from '@aws-sdk/client-iot';
import type { CaptureProxy } from '../../cli/drill/capture';
import type { Side } from '../../cli/drill/fleet';
import { addToGroup, createGroup, createThing, createThingType, describeGroup, describeThing, describeType, readShadow, updateShadow } from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';
import { type Round, startTwoWay, type TwoWay } from '../support/two-way';

let moto: Moto;
let twoWay: TwoWay;
let proxy: CaptureProxy;
let primary: Side;
let secondary: Side;
const saved = { ...process.env };
/** Pinned registry-event time (epoch ms), or undefined for real time. */
let pinnedClock: number | undefined;

beforeAll(async () => {
  moto = await startMoto();
  // Each direction's worker and trigger modules are loaded afresh with that direction's environment.
  twoWay = await startTwoWay({
    motoEndpoint: moto.endpoint,
    // The registry events' clock: real time, unless a test pins it (simultaneous events).
    clock: () => pinnedClock ?? Date.now(),
    load: (path) => {
      let module: unknown;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        module = require(path);
      });
      return module;
    },
  });
  ({ proxy, primary, secondary } = twoWay);
}, 60_000);

afterAll(async () => {
  process.env = saved;
  await twoWay?.stop();
  await moto?.stop();
});

/** Replicates until no change is captured any more (see `TwoWay.replicate`); one stream batch per direction and round. */
const replicate = (order: 'primary-first' | 'secondary-first' = 'primary-first') => twoWay.replicate({ order });

const groupsOf = async (side: Side, thing: string) =>
  ((await side.iot.send(new ListThingGroupsForThingCommand({ thingName: thing }))).thingGroups ?? []).map((g) => g.groupName);
const total = (rounds: Round[], key: 'executions' | 'writes') =>
  rounds.reduce((n, r) => n + r[key].toSecondary + r[key].toPrimary, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const reported = async (side: Side, thing: string, shadowName = '') => (await readShadow(side, thing, shadowName))?.state.reported;

describe('Two-way replication (moto, two regions, real trigger, ASL and workers per direction)', () => {
  beforeEach(async () => {
    await replicate(); // nothing left over from a previous test
  });

  it('replicates a thing created in either region to the other; the echo is one no-op execution, no write', async () => {
    // Given a thing created in the primary
    await createThing(primary, 'lamp-p', { attributes: { site: 'lyon' } });
    // When replication settles
    const rounds = await replicate();
    // Then the secondary has it, after one write; the secondary's registry event (registry events
    // carry no marker) comes back once and changes nothing
    expect((await describeThing(secondary, 'lamp-p'))?.attributes).toEqual({ site: 'lyon' });
    expect(rounds).toEqual([
      { executions: { toSecondary: 1, toPrimary: 0 }, writes: { toSecondary: 1, toPrimary: 0 }, failed: 0 },
      { executions: { toSecondary: 0, toPrimary: 1 }, writes: { toSecondary: 0, toPrimary: 0 }, failed: 0 },
    ]);

    // And the other way: a thing provisioned in the secondary (during a failover) reaches the primary
    await createThing(secondary, 'lamp-s', { attributes: { site: 'oslo' } });
    const back = await replicate();
    expect((await describeThing(primary, 'lamp-s'))?.attributes).toEqual({ site: 'oslo' });
    expect([total(back, 'executions'), total(back, 'writes')]).toEqual([2, 1]);
  });

  it('replicates shadow changes (classic and named) both ways with exactly one execution and one write each: no echo', async () => {
    await createThing(primary, 'dev');
    await replicate();
    const droppedBefore = proxy.dropped.count;

    // A device reports in the primary
    await updateShadow(primary, 'dev', '', { reported: { temp: 20 } });
    const forward = await replicate();
    expect(await reported(secondary, 'dev')).toEqual({ temp: 20 });
    expect(forward).toEqual([{ executions: { toSecondary: 1, toPrimary: 0 }, writes: { toSecondary: 1, toPrimary: 0 }, failed: 0 }]);

    // A device reports on a named shadow in the secondary (an outage: devices are there)
    await updateShadow(secondary, 'dev', 'config', { reported: { rate: 5 } });
    const backward = await replicate();
    expect(await reported(primary, 'dev', 'config')).toEqual({ rate: 5 });
    expect(backward).toEqual([{ executions: { toSecondary: 0, toPrimary: 1 }, writes: { toSecondary: 0, toPrimary: 1 }, failed: 0 }]);

    // Both replicator writes were dropped by the capture rules' WHERE (clientToken iot-dr:...)
    expect(proxy.dropped.count - droppedBefore).toBe(2);
  });

  it.each(['primary-first', 'secondary-first'] as const)(
    'split brain, events delivered %s: a shadow edited in both regions converges to the newer edit in both',
    async (order) => {
      const thing = `split-${order}`;
      await createThing(primary, thing);
      await replicate();
      // Given the same shadow edited in the primary, then (a second later) in the secondary,
      // before either change is replicated
      await updateShadow(primary, thing, '', { reported: { temp: 20, source: 'primary' } });
      await sleep(1100); // metadata timestamps are whole seconds
      await updateShadow(secondary, thing, '', { reported: { temp: 25, source: 'secondary' } });
      // When both events are delivered, in either order
      const rounds = await replicate(order);
      // Then both regions hold the newer edit, written once (in the primary), and nothing loops
      const expected = { temp: 25, source: 'secondary' };
      expect(await reported(primary, thing)).toEqual(expected);
      expect(await reported(secondary, thing)).toEqual(expected);
      expect([total(rounds, 'executions'), total(rounds, 'writes')]).toEqual([2, 1]);
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'delete vs update, events delivered %s: an update newer than the other region\'s delete wins in both regions',
    async (order) => {
      const thing = `dvu-${order}`;
      await createThing(primary, thing);
      await updateShadow(primary, thing, '', { reported: { on: true } });
      await replicate();
      // Given the shadow deleted in the primary, then updated in the secondary a second later
      await primary.data.send(new DeleteThingShadowCommand({ thingName: thing }));
      await sleep(1100);
      await updateShadow(secondary, thing, '', { reported: { on: false, after: 'delete' } });
      // When both events are delivered
      await replicate(order);
      // Then the later update stands in both regions
      expect(await reported(secondary, thing)).toEqual({ on: false, after: 'delete' });
      expect(await reported(primary, thing)).toEqual({ on: false, after: 'delete' });
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'delete vs update, events delivered %s: a delete newer than the other region\'s update wins in both regions (tombstones)',
    async (order) => {
      const thing = `vd-${order}`;
      await createThing(primary, thing);
      await updateShadow(primary, thing, '', { reported: { on: true } });
      await replicate();
      // Given the shadow updated in the secondary, then (a second later) deleted in the primary
      await updateShadow(secondary, thing, '', { reported: { on: false } });
      await sleep(1100);
      await primary.data.send(new DeleteThingShadowCommand({ thingName: thing }));
      // When both events are delivered, in either order
      await replicate(order);
      // Then the later delete stands in both regions (the primary's tombstone stops the re-creation)
      expect(await readShadow(primary, thing)).toBeUndefined();
      expect(await readShadow(secondary, thing)).toBeUndefined();
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing delete vs an older update in the other region, events delivered %s: the delete wins in both regions',
    async (order) => {
      const thing = `td-${order}`;
      await createThing(primary, thing, { attributes: { v: '1' } });
      await replicate();
      // Given the thing updated in the secondary, then deleted in the primary
      await secondary.iot.send(new UpdateThingCommand({ thingName: thing, attributePayload: { attributes: { v: '2' }, merge: false } }));
      await sleep(20);
      await primary.iot.send(new DeleteThingCommand({ thingName: thing }));
      await replicate(order);
      expect(await describeThing(primary, thing)).toBeUndefined();
      expect(await describeThing(secondary, thing)).toBeUndefined();
    },
  );

  it('a delete newer than every field of the other region removes the shadow in both regions', async () => {
    await createThing(primary, 'gone');
    await replicate();
    await updateShadow(secondary, 'gone', '', { reported: { x: 1 } });
    await replicate();
    expect(await reported(primary, 'gone')).toEqual({ x: 1 });
    await sleep(1100);
    await secondary.data.send(new DeleteThingShadowCommand({ thingName: 'gone' }));
    const rounds = await replicate();
    expect(await readShadow(primary, 'gone')).toBeUndefined();
    expect(await readShadow(secondary, 'gone')).toBeUndefined();
    // The primary's delete (the replicator's, which carries no clientToken) comes back once, a no-op
    expect([total(rounds, 'executions'), total(rounds, 'writes')]).toEqual([2, 1]);
  });
  // Registry: a change of the resource in one region after the other region deleted it wins (later
  // wins by event time; the delete wins a tie). moto: the capture proxy stamps registry events
  // with its clock, as AWS does with its own.
  it.each(['primary-first', 'secondary-first'] as const)(
    'thing updated in one region after the other deleted it, events delivered %s: the update wins in both regions',
    async (order) => {
      const thing = `tu-${order}`;
      await createThing(primary, thing, { attributes: { v: '1' } });
      await replicate();
      // Given the thing deleted in the primary, then updated in the secondary
      await primary.iot.send(new DeleteThingCommand({ thingName: thing }));
      await sleep(20);
      await secondary.iot.send(new UpdateThingCommand({ thingName: thing, attributePayload: { attributes: { v: '2' }, merge: false } }));
      // When both events are delivered, in either order
      await replicate(order);
      // Then the later update stands in both regions (re-created in the primary)
      expect((await describeThing(secondary, thing))?.attributes).toEqual({ v: '2' });
      expect((await describeThing(primary, thing))?.attributes).toEqual({ v: '2' });
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing deleted in one region and updated in the other at the same time, events delivered %s: the delete wins the tie in both regions',
    async (order) => {
      const thing = `tt-${order}`;
      await createThing(primary, thing, { attributes: { v: '1' } });
      await replicate();
      // Given the delete and the update stamped with the same time
      pinnedClock = Date.now();
      try {
        await primary.iot.send(new DeleteThingCommand({ thingName: thing }));
        await secondary.iot.send(new UpdateThingCommand({ thingName: thing, attributePayload: { attributes: { v: '2' }, merge: false } }));
        await replicate(order);
      } finally {
        pinnedClock = undefined;
      }
      expect(await describeThing(primary, thing)).toBeUndefined();
      expect(await describeThing(secondary, thing)).toBeUndefined();
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing added to a group in one region after the other deleted it, events delivered %s: the thing stays, in the group, in both regions',
    async (order) => {
      const thing = `ga-${order}`;
      await createThing(primary, thing);
      await createGroup(primary, `site-${order}`);
      await replicate();
      // Given the thing deleted in the secondary, then added to a group in the primary
      await secondary.iot.send(new DeleteThingCommand({ thingName: thing }));
      await sleep(20);
      await addToGroup(primary, `site-${order}`, thing);
      await replicate(order);
      // Then the membership (a change of the thing) wins: re-created in the secondary, in the group
      for (const side of [primary, secondary]) {
        expect(await describeThing(side, thing)).toBeDefined();
        expect(await groupsOf(side, thing)).toEqual([`site-${order}`]);
      }
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing deleted in one region after the other added it to a group, events delivered %s: the delete wins in both regions',
    async (order) => {
      const thing = `gd2-${order}`;
      await createThing(primary, thing);
      await createGroup(primary, `site2-${order}`);
      await replicate();
      await addToGroup(primary, `site2-${order}`, thing);
      await sleep(20);
      await secondary.iot.send(new DeleteThingCommand({ thingName: thing }));
      await replicate(order);
      expect(await describeThing(primary, thing)).toBeUndefined();
      expect(await describeThing(secondary, thing)).toBeUndefined();
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing group updated in one region after the other deleted it, events delivered %s: the update wins in both regions',
    async (order) => {
      const group = `gu-${order}`;
      await createGroup(primary, group, { description: 'one' });
      await replicate();
      await primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: group }));
      await sleep(20);
      await secondary.iot.send(new UpdateThingGroupCommand({ thingGroupName: group, thingGroupProperties: { thingGroupDescription: 'two' } }));
      await replicate(order);
      expect((await describeGroup(secondary, group))?.thingGroupProperties?.thingGroupDescription).toBe('two');
      expect((await describeGroup(primary, group))?.thingGroupProperties?.thingGroupDescription).toBe('two');
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing group deleted in one region after the other updated it, events delivered %s: the delete wins in both regions',
    async (order) => {
      const group = `gd-${order}`;
      await createGroup(primary, group, { description: 'one' });
      await replicate();
      await secondary.iot.send(new UpdateThingGroupCommand({ thingGroupName: group, thingGroupProperties: { thingGroupDescription: 'two' } }));
      await sleep(20);
      await primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: group }));
      await replicate(order);
      expect(await describeGroup(primary, group)).toBeUndefined();
      expect(await describeGroup(secondary, group)).toBeUndefined();
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'thing type undeprecated in one region after the other deleted it, events delivered %s: the change wins in both regions',
    async (order) => {
      const type = `ty-${order}`;
      await createThingType(primary, type, { description: 'one' });
      await primary.iot.send(new DeprecateThingTypeCommand({ thingTypeName: type }));
      await replicate();
      expect((await describeType(secondary, type))?.thingTypeMetadata?.deprecated).toBe(true);
      // Given the (deprecated) type deleted in the primary, then undeprecated in the secondary
      // (moto deletes without AWS's five minutes after deprecation)
      await primary.iot.send(new DeleteThingTypeCommand({ thingTypeName: type }));
      await sleep(20);
      await secondary.iot.send(new DeprecateThingTypeCommand({ thingTypeName: type, undoDeprecate: true }));
      await replicate(order);
      // Then the usable type stands in both regions (re-created in the primary)
      expect((await describeType(secondary, type))?.thingTypeMetadata?.deprecated).toBe(false);
      expect((await describeType(primary, type))?.thingTypeMetadata?.deprecated).toBe(false);
    },
  );

  // Shadow fields: a removal (a null in the accepted document) is a tombstone too. moto stamps
  // every field with the last update's time (AWS: each field its own), so each region's edit is a
  // second apart and the untouched field's value is the same in both.
  it.each(['primary-first', 'secondary-first'] as const)(
    'shadow field removed in one region after the other set it, events delivered %s: the removal wins in both regions',
    async (order) => {
      const thing = `rm-${order}`;
      await createThing(primary, thing);
      await updateShadow(primary, thing, '', { reported: { temp: 20, mode: 'eco' } });
      await replicate();
      // Given mode set in the primary, then (a second later) removed in the secondary
      await updateShadow(primary, thing, '', { reported: { mode: 'boost' } });
      await sleep(1100);
      await updateShadow(secondary, thing, '', { reported: { mode: null } });
      // When both events are delivered, in either order
      await replicate(order);
      // Then neither region has mode (the secondary's removal tombstone keeps it from coming back)
      expect(await reported(secondary, thing)).toEqual({ temp: 20 });
      expect(await reported(primary, thing)).toEqual({ temp: 20 });
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'shadow field set in one region and removed in the other in the same second, events delivered %s: the removal wins the tie in both regions',
    async (order) => {
      const thing = `rt-${order}`;
      await createThing(primary, thing);
      // Given mode set in the primary and removed in the secondary, both stamped with the same
      // second: the writes start just after a second begins; if they straddle a boundary anyway,
      // the regions are re-aligned and it is tried again (at most 3 times)
      let tie = false;
      for (let attempt = 0; attempt < 3 && !tie; attempt++) {
        await updateShadow(primary, thing, '', { reported: { temp: 20, mode: 'eco' } });
        await replicate();
        await sleep(1000 - (Date.now() % 1000) + 5);
        const set = await updateShadow(primary, thing, '', { reported: { mode: 'boost' } });
        const removed = await updateShadow(secondary, thing, '', { reported: { mode: null } });
        tie = set.timestamp === removed.timestamp;
        if (!tie) await replicate();
      }
      expect(tie).toBe(true);
      // When both events are delivered, in either order
      await replicate(order);
      // Then the removal wins in both regions
      expect(await reported(secondary, thing)).toEqual({ temp: 20 });
      expect(await reported(primary, thing)).toEqual({ temp: 20 });
    },
  );

  it.each(['primary-first', 'secondary-first'] as const)(
    'shadow field set in one region after the other removed it, events delivered %s: the set wins in both regions',
    async (order) => {
      const thing = `st-${order}`;
      await createThing(primary, thing);
      await updateShadow(primary, thing, '', { reported: { temp: 20, mode: 'eco' } });
      await replicate();
      // Given mode removed in the secondary, then (a second later) set in the primary
      await updateShadow(secondary, thing, '', { reported: { mode: null } });
      await sleep(1100);
      await updateShadow(primary, thing, '', { reported: { mode: 'boost' } });
      await replicate(order);
      expect(await reported(secondary, thing)).toEqual({ temp: 20, mode: 'boost' });
      expect(await reported(primary, thing)).toEqual({ temp: 20, mode: 'boost' });
    },
  );
});
