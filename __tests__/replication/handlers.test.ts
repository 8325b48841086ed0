// The real worker handlers (functions/worker-*/handler.ts) against moto: env read at module
// load, input validation, dispatch per worker, and a sequence of events replayed shuffled with
// duplicates ending in the same state as the primary.
import {
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  ListThingPrincipalsCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { InvalidEventError } from '../../functions/lib/errors';
import {
  addToGroup,
  createDevice,
  createGroup,
  createPolicy,
  createThingType,
  describeGroup,
  describeThing,
  hierarchyEvent,
  membershipEvent,
  PRIMARY,
  readShadow,
  shadowEvent,
  thingEvent,
  thingGroupEvent,
  thingTypeEvent,
  twoRegions,
  updateShadow,
  workerInput,
  type TableItem,
} from '../support/fleet';
import { workerLambdaEnv, startMoto, type Moto } from '../support/moto';

type Handler = (input: unknown) => Promise<{ outcomes: { kind: string; name: string; action: string }[] }>;

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
const workers: Record<'thing' | 'thingType' | 'thingGroup' | 'shadow', Handler> = {} as never;
const saved = { ...process.env };

function loadHandler(entry: string): Handler {
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    handler = require(`../../functions/${entry}/handler`).handler;
  });
  return handler as Handler;
}

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  Object.assign(process.env, {
    ...workerLambdaEnv(moto.endpoint),
  });
  workers.thing = loadHandler('worker-thing');
  workers.thingType = loadHandler('worker-thing-type');
  workers.thingGroup = loadHandler('worker-thing-group');
  workers.shadow = loadHandler('worker-shadow');
});
afterAll(async () => {
  process.env = saved;
  await moto?.stop();
});
beforeEach(() => moto.reset());

describe('Worker handlers', () => {
  it('fail loudly at module load when an environment variable is missing', () => {
    delete process.env.REPLICATION_MODE;
    try {
      expect(() => loadHandler('worker-thing')).toThrow('environment variable REPLICATION_MODE is required');
      process.env.REPLICATION_MODE = 'everything';
      expect(() => loadHandler('worker-shadow')).toThrow(/REPLICATION_MODE must be one of complete, thing-only/);
    } finally {
      process.env.REPLICATION_MODE = 'complete';
    }
  });

  it.each([
    [undefined, 'input'],
    [{ event: {} }, 'eventId'],
    [{ eventId: 'x' }, 'event'],
    [
      { eventId: 'x', event: { eventType: 'THING_GROUP_EVENT', operation: 'CREATED', thingGroupName: 'g' } },
      'event.eventType',
    ],
    [{ eventId: 'x', event: { eventType: 'THING_EVENT', operation: 'RENAMED', thingName: 't' } }, 'event.operation'],
    [{ eventId: 'x', event: { eventType: 'THING_EVENT', operation: 'CREATED' } }, 'event.thingName'],
  ])('worker-thing rejects %j with InvalidEventError naming %s', async (input, field) => {
    const error = await workers.thing(input).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'InvalidEventError', field });
    expect((error as Error).message).toContain(`"${field}"`);
  });

  it('worker-thing-group rejects a membership event whose ARN is not a thing group ARN', async () => {
    const event = {
      ...membershipEvent(PRIMARY, 'ADDED', 'g', 't'),
      groupArn: 'arn:aws:iot:us-east-1:123456789012:thing/g',
    };
    await expect(workers.thingGroup(workerInput(event))).rejects.toMatchObject({
      name: 'InvalidEventError',
      field: 'event.groupArn',
    });
    expect(InvalidEventError).toBeDefined();
  });

  it('replicate a fleet through each worker; a shuffled replay with duplicates ends in the same state', async () => {
    // Given a primary fleet built step by step, with the event of each step
    const events: { worker: keyof typeof workers; item: TableItem }[] = [];
    await createThingType(env.primary, 'bulb', { description: 'Bulbs' });
    events.push({ worker: 'thingType', item: thingTypeEvent(PRIMARY, 'CREATED', { name: 'bulb' }) });
    await createGroup(env.primary, 'home');
    events.push({ worker: 'thingGroup', item: thingGroupEvent(PRIMARY, 'CREATED', { name: 'home' }) });
    await createGroup(env.primary, 'kitchen', { parent: 'home', attributes: { floor: '0' } });
    events.push({
      worker: 'thingGroup',
      item: thingGroupEvent(PRIMARY, 'CREATED', { name: 'kitchen', parent: 'home' }),
    });
    events.push({ worker: 'thingGroup', item: hierarchyEvent(PRIMARY, 'ADDED', 'home', 'kitchen') });
    await createPolicy(env.primary, 'bulb-policy');
    for (const name of ['b1', 'b2']) {
      await createDevice(env.primary, name, { type: 'bulb', attributes: { room: 'kitchen' }, policy: 'bulb-policy' });
      events.push({ worker: 'thing', item: thingEvent(PRIMARY, 'CREATED', { name, type: 'bulb' }) });
      await addToGroup(env.primary, 'kitchen', name);
      events.push({ worker: 'thingGroup', item: membershipEvent(PRIMARY, 'ADDED', 'kitchen', name) });
    }
    await env.primary.iot.send(
      new UpdateThingCommand({ thingName: 'b1', attributePayload: { attributes: { room: 'hall' }, merge: false } }),
    );
    events.push({ worker: 'thing', item: thingEvent(PRIMARY, 'UPDATED', { name: 'b1', version: 2 }) });
    for (const level of [1, 2, 3]) {
      const accepted = await updateShadow(env.primary, 'b1', '', { reported: { level } });
      events.push({ worker: 'shadow', item: shadowEvent(PRIMARY, 'update', 'b1', '', accepted) });
    }
    const named = await updateShadow(env.primary, 'b2', 'schedule', { desired: { at: '07:00' } });
    events.push({ worker: 'shadow', item: shadowEvent(PRIMARY, 'update', 'b2', 'schedule', named) });
    // b2 is deleted at the end
    const principals = await env.primary.iot.send(new ListThingPrincipalsCommand({ thingName: 'b2' }));
    for (const principal of principals.principals ?? []) {
      await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: 'b2', principal }));
    }
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'b2' }));
    events.push({ worker: 'thing', item: thingEvent(PRIMARY, 'DELETED', { name: 'b2' }) });

    // When applied in order through the real handlers
    for (const { worker, item } of events) await workers[worker](workerInput(item));
    const snapshot = async () => ({
      b1: await describeThing(env.secondary, 'b1').then((t) => ({ type: t?.thingTypeName, attributes: t?.attributes })),
      b2: await describeThing(env.secondary, 'b2'),
      kitchen: await describeGroup(env.secondary, 'kitchen').then((g) => ({
        parent: g?.thingGroupMetadata?.parentGroupName,
        props: g?.thingGroupProperties,
      })),
      shadow: (await readShadow(env.secondary, 'b1'))?.state.reported,
      named: await readShadow(env.secondary, 'b2', 'schedule'),
      principals: (await env.secondary.iot.send(new ListThingPrincipalsCommand({ thingName: 'b1' }))).principals
        ?.length,
    });
    const first = await snapshot();

    // Then
    expect(first).toEqual({
      b1: { type: 'bulb', attributes: { room: 'hall' } },
      b2: undefined,
      kitchen: { parent: 'home', props: { attributePayload: { attributes: { floor: '0' } } } },
      shadow: { level: 3 },
      named: undefined,
      principals: 1,
    });

    // When the same events come again, shuffled (deterministically) and duplicated
    const shuffled = [...events, ...events.slice(0, 5)]
      .map((e, i) => ({ e, k: (i * 7919) % 23 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.e);
    for (const { worker, item } of shuffled) await workers[worker](workerInput(item));

    // Then nothing moved
    expect(await snapshot()).toEqual(first);
  });
});
