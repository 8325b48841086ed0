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
import { DeleteThingCommand, UpdateThingCommand } from '@aws-sdk/client-iot';
import type { CaptureProxy } from '../../cli/drill/capture';
import type { Side } from '../../cli/drill/fleet';
import { createThing, describeThing, readShadow, updateShadow } from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';
import { type Round, startTwoWay, type TwoWay } from '../support/two-way';

let moto: Moto;
let twoWay: TwoWay;
let proxy: CaptureProxy;
let primary: Side;
let secondary: Side;
const saved = { ...process.env };

beforeAll(async () => {
  moto = await startMoto();
  // Each direction's worker and trigger modules are loaded afresh with that direction's environment.
  twoWay = await startTwoWay({
    motoEndpoint: moto.endpoint,
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
});
