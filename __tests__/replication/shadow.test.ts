// Shadow replication (SHADOW_EVENT update/delete, classic and named) against moto: state
// converging from the primary's current shadow, so duplicates and reordering cannot regress it.
import { DeleteThingShadowCommand, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { RetryableError } from '../../functions/lib/errors';
import { applyEvent, shadowPatch } from '../../functions/lib/replication';
import { createThing, PRIMARY, readShadow, shadowEvent, thingEvent, twoRegions, updateShadow } from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint, { mode: 'thing-only' });
});
afterAll(() => moto?.stop());
beforeEach(async () => {
  await moto.reset();
  await createThing(env.primary, 'lamp');
  await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'lamp' }), 'setup');
});

const stateOf = async (side: 'primary' | 'secondary', shadowName = '') => (await readShadow(env[side], 'lamp', shadowName))?.state;
const withoutDelta = (state: Record<string, unknown> | undefined) => {
  const { delta: _delta, ...rest } = state ?? {};
  return rest;
};

describe('Replication: shadows', () => {
  it.each([
    ['classic', ''],
    ['named', 'config'],
  ])('applies an update to the %s shadow with a replicator clientToken', async (_label, shadowName) => {
    // Given
    const accepted = await updateShadow(env.primary, 'lamp', shadowName, { desired: { on: true, level: 3 }, reported: { on: false } });
    const send = jest.spyOn(env.ctx.target.data, 'send');

    // When
    const outcomes = await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', shadowName, accepted), 'evt-123');

    // Then
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'shadow', action: 'created' })]);
    expect(withoutDelta(await stateOf('secondary', shadowName))).toEqual({ desired: { on: true, level: 3 }, reported: { on: false } });
    const update = send.mock.calls.map(([command]) => command).find((c) => c instanceof UpdateThingShadowCommand) as UpdateThingShadowCommand;
    expect(JSON.parse(Buffer.from(update.input.payload as Uint8Array).toString()).clientToken).toBe('iot-dr:evt-123');
    send.mockRestore();
  });

  it('removes keys (nested and whole sections) the primary removed', async () => {
    await updateShadow(env.primary, 'lamp', '', { desired: { on: true, color: { r: 1, g: 2 } }, reported: { on: true, fw: '1' } });
    await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', '', { version: 1 }), 'e-1');

    const accepted = await updateShadow(env.primary, 'lamp', '', { desired: null, reported: { fw: null, color: { r: 1 } } });
    await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', '', accepted), 'e-2');

    expect(withoutDelta(await stateOf('secondary'))).toEqual(withoutDelta(await stateOf('primary')));
    expect((await stateOf('secondary'))?.reported).toEqual({ on: true, color: { r: 1 } });
    // (moto 5.2.5 ignores `"desired": null`, so the section survives in both regions there; on AWS
    // it disappears from the primary and shadowPatch sends the same null to the secondary.)
  });

  it('never lets an older or duplicate update overwrite a newer state (shuffled replay)', async () => {
    const events = [];
    for (let level = 1; level <= 5; level++) {
      const accepted = await updateShadow(env.primary, 'lamp', 'cfg', { reported: { level, [`k${level}`]: level } });
      events.push(shadowEvent(PRIMARY, 'update', 'lamp', 'cfg', accepted));
    }
    // Apply newest first, then the rest shuffled with duplicates.
    const replay = [events[4], events[0], events[2], events[0], events[1], events[3], events[2], events[4]];
    const actions = [];
    for (const [i, event] of replay.entries()) actions.push(...(await applyEvent(env.ctx, event, `e-${i}`)).map((o) => o.action));

    expect(actions).toEqual(['created', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(withoutDelta(await stateOf('secondary', 'cfg'))).toEqual(withoutDelta(await stateOf('primary', 'cfg')));
    expect((await stateOf('secondary', 'cfg'))?.reported).toMatchObject({ level: 5, k1: 1, k5: 5 });
  });

  it.each([
    ['classic', ''],
    ['named', 'config'],
  ])('replicates a delete of the %s shadow; a late update after the delete does not resurrect it', async (_label, shadowName) => {
    const accepted = await updateShadow(env.primary, 'lamp', shadowName, { reported: { on: true } });
    const update = shadowEvent(PRIMARY, 'update', 'lamp', shadowName, accepted);
    await applyEvent(env.ctx, update, 'e-1');
    expect(await stateOf('secondary', shadowName)).toBeDefined();

    await env.primary.data.send(new DeleteThingShadowCommand({ thingName: 'lamp', shadowName: shadowName || undefined }));
    const outcomes = await applyEvent(env.ctx, shadowEvent(PRIMARY, 'delete', 'lamp', shadowName, { version: accepted.version + 1 }), 'e-2');
    expect(outcomes).toEqual([expect.objectContaining({ kind: 'shadow', action: 'deleted' })]);
    expect(await stateOf('secondary', shadowName)).toBeUndefined();

    await applyEvent(env.ctx, update, 'e-1');
    expect(await stateOf('secondary', shadowName)).toBeUndefined();
  });

  it('Given another execution writes an older state right after this one wrote (two events of one shadow applied at once), When the event is applied, Then the check pass after the write restores the newest state', async () => {
    const older = await updateShadow(env.primary, 'lamp', '', { reported: { t: 1 } });
    const newer = await updateShadow(env.primary, 'lamp', '', { reported: { t: 2 } });
    const real = env.ctx.target.data.send.bind(env.ctx.target.data);
    let raced = false;
    // The concurrent execution, played by a direct write of the older state just after ours.
    const send = jest.spyOn(env.ctx.target.data, 'send').mockImplementation(async (command: any) => {
      const out = await real(command);
      if (command instanceof UpdateThingShadowCommand && !raced) {
        raced = true;
        await real(new UpdateThingShadowCommand({ thingName: 'lamp', payload: Buffer.from(JSON.stringify({ state: older.state })) }));
      }
      return out;
    });
    try {
      const outcomes = await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', '', newer), 'evt-new');
      expect(outcomes).toEqual([expect.objectContaining({ action: 'created' })]);
    } finally {
      send.mockRestore();
    }
    expect(raced).toBe(true);
    expect(withoutDelta(await stateOf('secondary'))).toEqual(withoutDelta(await stateOf('primary')));
    expect((await stateOf('secondary'))?.reported).toEqual({ t: 2 });
  });

  it('throws RetryableError while the thing is not replicated yet, then converges', async () => {
    await createThing(env.primary, 'newcomer');
    const accepted = await updateShadow(env.primary, 'newcomer', '', { reported: { up: true } });
    const event = shadowEvent(PRIMARY, 'update', 'newcomer', '', accepted);
    await expect(applyEvent(env.ctx, event, 'e-1')).rejects.toMatchObject({ name: 'RetryableError' });

    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'newcomer' }), 'e-0');
    await applyEvent(env.ctx, event, 'e-1');
    expect((await readShadow(env.secondary, 'newcomer'))?.state.reported).toEqual({ up: true });
  });

  it('throws RetryableError when the primary read is older than the event (eventual consistency)', async () => {
    const accepted = await updateShadow(env.primary, 'lamp', '', { reported: { on: true } });
    const event = shadowEvent(PRIMARY, 'update', 'lamp', '', { ...accepted, version: accepted.version + 1 });
    await expect(applyEvent(env.ctx, event, 'e-1')).rejects.toBeInstanceOf(RetryableError);
  });

  it('deletes classic and named shadows with the thing', async () => {
    await updateShadow(env.primary, 'lamp', '', { reported: { a: 1 } });
    await updateShadow(env.primary, 'lamp', 'n1', { reported: { b: 1 } });
    await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', '', { version: 1 }), 'e-1');
    await applyEvent(env.ctx, shadowEvent(PRIMARY, 'update', 'lamp', 'n1', { version: 1 }), 'e-2');
    const { DeleteThingCommand } = await import('@aws-sdk/client-iot');
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'lamp' }));

    const outcomes = await applyEvent(env.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'lamp' }), 'e-3');
    expect(outcomes).toEqual([
      { kind: 'shadow', name: 'lamp/n1', action: 'deleted' },
      { kind: 'shadow', name: 'lamp/classic', action: 'deleted' },
      { kind: 'thing', name: 'lamp', action: 'deleted' },
    ]);
  });
});

describe('shadowPatch', () => {
  it('computes the minimal update under shadow merge rules', () => {
    expect(shadowPatch({ a: 1, b: { c: 1, d: 2 }, e: [1] }, { a: 1, b: { c: 2 }, e: [1, 2] })).toEqual({ b: { c: 2, d: null }, e: [1, 2] });
    expect(shadowPatch({ a: 1 }, { a: 1 })).toBeUndefined();
    expect(shadowPatch({ a: 1 }, undefined)).toBeNull();
    expect(shadowPatch(undefined, undefined)).toBeUndefined();
  });
});
