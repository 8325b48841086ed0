// Things on a thing type deprecated in the primary (issue 12, item 1). AWS keeps existing things
// on a deprecated type but refuses CreateThing (and UpdateThing onto it) with that type, so the
// library undeprecates the type in the secondary for the write and deprecates it again. Each path
// that creates things is covered on moto: a worker handler, `iot-dr copy` (twice: converges) and
// the reconciliation job. moto refuses like AWS ("Can not create new thing with depreated thing
// type", HTTP 400 InvalidRequestException).
import { join } from 'node:path';
import { DeprecateThingTypeCommand, UpdateThingCommand } from '@aws-sdk/client-iot';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { CopySummary } from '../../cli/commands/copy';
import type { VerifyReport } from '../../cli/commands/verify';
import { reconcile } from '../../functions/lib/fleet';
import {
  createDevice,
  createPolicy,
  createThing,
  createThingType,
  describeThing,
  describeType,
  thingEvent,
  twoRegions,
  PRIMARY,
  workerInput,
} from '../support/fleet';
import { motoClient, startMoto, workerLambdaEnv, type Moto } from '../support/moto';
import { cli, parseJson, scratchDir, SECONDARY, useFakeCredentials } from '../cli/helpers';

type Handler = (input: unknown) => Promise<{ outcomes: { kind: string; name: string; action: string; detail?: string }[] }>;

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
let scratch: ReturnType<typeof scratchDir>;
const saved = { ...process.env };

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  scratch = scratchDir();
});
afterAll(async () => {
  process.env = saved;
  await moto?.stop();
  scratch?.cleanup();
});
beforeEach(() => moto.reset());

const deprecate = (side: typeof env.primary, name: string, undo = false) =>
  side.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name, undoDeprecate: undo }));

/** The reproduction: type `old-rev`, things of that type (with certificates), then deprecated. */
async function seedDeprecated(things = 1): Promise<void> {
  await createThingType(env.primary, 'old-rev', { description: 'retired hardware revision' });
  await createPolicy(env.primary, 'device-policy');
  for (let i = 1; i <= things; i++) {
    await createDevice(env.primary, `dev-${i}`, { type: 'old-rev', attributes: { n: String(i) }, policy: 'device-policy' });
  }
  await deprecate(env.primary, 'old-rev');
}

const deprecated = async (side: typeof env.secondary, name: string) =>
  (await describeType(side, name))?.thingTypeMetadata?.deprecated === true;

describe('Things on a deprecated thing type', () => {
  it('the thing worker creates the thing, and the type ends deprecated as in the primary', async () => {
    // Given the reproduction, and a worker handler
    await seedDeprecated();
    let handler: Handler | undefined;
    Object.assign(process.env, workerLambdaEnv(moto.endpoint));
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      handler = require('../../functions/worker-thing/handler').handler;
    });

    // When the thing's CREATED event is applied twice (a redelivery)
    const first = await (handler as Handler)(workerInput(thingEvent(PRIMARY, 'CREATED', { name: 'dev-1', type: 'old-rev' })));
    const second = await (handler as Handler)(workerInput(thingEvent(PRIMARY, 'CREATED', { name: 'dev-1', type: 'old-rev' })));

    // Then the thing exists with its type, and the type is deprecated in the secondary
    expect(await describeThing(env.secondary, 'dev-1')).toMatchObject({ thingTypeName: 'old-rev', attributes: { n: '1' } });
    expect(await deprecated(env.secondary, 'old-rev')).toBe(true);
    expect(first.outcomes).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'thing', name: 'dev-1', action: 'created', detail: expect.stringContaining('deprecated thing type old-rev') })]),
    );
    expect(second.outcomes.find((o) => o.kind === 'thing')).toMatchObject({ action: 'unchanged' });
  });

  it('moves an existing thing onto a deprecated type (UpdateThing) and re-deprecates the type', async () => {
    // Given a thing without type in both regions, and a deprecated type in both
    await createThingType(env.primary, 'old-rev');
    await deprecate(env.primary, 'old-rev');
    await createThing(env.primary, 'dev-1');
    const { syncThing, syncThingType } = await import('../../functions/lib/replication');
    await syncThingType(env.ctx, 'old-rev');
    await syncThing(env.ctx, 'dev-1', { registryOnly: true });
    // ...and the primary moves the thing onto the type (allowed there before it was deprecated; here
    // undeprecated, moved, deprecated again)
    await deprecate(env.primary, 'old-rev', true);
    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev-1', thingTypeName: 'old-rev' }));
    await deprecate(env.primary, 'old-rev');

    // When the thing is synced
    const outcomes = await syncThing(env.ctx, 'dev-1', { registryOnly: true });

    // Then
    expect(outcomes.find((o) => o.kind === 'thing')).toMatchObject({ action: 'updated' });
    expect((await describeThing(env.secondary, 'dev-1'))?.thingTypeName).toBe('old-rev');
    expect(await deprecated(env.secondary, 'old-rev')).toBe(true);
  });

  it('`iot-dr copy` copies every thing of a deprecated type (concurrently); a second copy changes nothing', async () => {
    // Given the reproduction with 12 things sharing the type
    await seedDeprecated(12);
    const run = () =>
      cli(['copy', '--endpoint', moto.endpoint, '--rate-limit', '0', '--concurrency', '8', '--json', '--checkpoint', join(scratch.dir, 'cp.json')], {
        cwd: scratch.dir,
      });

    // When copied twice
    const first = await run();
    const second = await run();

    // Then the first copy created all things, the second changed nothing, and verify matches
    expect(first.code).toBe(0);
    const s1 = parseJson<CopySummary>(first.stdout);
    expect(s1.failures).toEqual([]);
    expect(s1.outcomes.thing).toMatchObject({ created: 12 });
    expect(second.code).toBe(0);
    const s2 = parseJson<CopySummary>(second.stdout);
    expect(s2.failures).toEqual([]);
    expect(s2.outcomes.thing).toEqual({ unchanged: 12 });
    expect(s2.outcomes.thingType).toEqual({ unchanged: 1 });
    expect(await deprecated(env.secondary, 'old-rev')).toBe(true);
    const verify = await cli(['verify', '--endpoint', moto.endpoint, '--rate-limit', '0', '--json'], { cwd: scratch.dir });
    expect(parseJson<VerifyReport>(verify.stdout).differences).toEqual([]);
    expect(verify.code).toBe(0);
  });

  it('reconciliation creates the missing thing of a deprecated type and leaves the type deprecated', async () => {
    // Given the reproduction, the type already deprecated in the secondary, the thing missing there
    await seedDeprecated(2);
    const { syncThingType } = await import('../../functions/lib/replication');
    await syncThingType(env.ctx, 'old-rev');
    expect(await deprecated(env.secondary, 'old-rev')).toBe(true);

    // When a reconciliation run covers the fleet
    const result = await reconcile({
      ctx: env.ctx,
      ssm: motoClient(SSMClient, moto.endpoint, SECONDARY),
      cursorParameter: '/iot-dr/reconciliation/cursor',
      thingsPerRun: 100,
    });

    // Then
    expect(result.repairErrors).toEqual([]);
    expect(result.outcomes.thing).toMatchObject({ created: 2 });
    expect((await describeThing(env.secondary, 'dev-2'))?.thingTypeName).toBe('old-rev');
    expect(await deprecated(env.secondary, 'old-rev')).toBe(true);
  });
});
