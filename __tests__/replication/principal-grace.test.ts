// The principal grace of the real worker handler (functions/worker-thing/handler.ts) against moto:
// PRINCIPAL_GRACE_SECONDS, read at module load, decides how long after its event a thing without
// certificate throws PrincipalPendingError instead of being replicated without one; a bad value
// fails the cold start with a ConfigurationError naming the variable and the rule.
import { ListThingPrincipalsCommand } from '@aws-sdk/client-iot';
import type * as Errors from '../../functions/lib/errors';
import { ConfigurationError } from '../../functions/lib/errors';
import { createContext } from '../../functions/lib/replication';
import { createThing, PRIMARY, thingEvent, twoRegions, workerInput } from '../support/fleet';
import { workerLambdaEnv, startMoto, type Moto } from '../support/moto';

type Handler = (input: unknown) => Promise<{ outcomes: { kind: string; name: string; action: string }[] }>;

let moto: Moto;
let env: ReturnType<typeof twoRegions>;
const saved = { ...process.env };

/**
 * The thing worker, loaded with PRINCIPAL_GRACE_SECONDS = `grace` (unset when undefined), with the
 * error classes of the same module registry (each isolated load has its own classes).
 */
function thingWorker(grace: string | undefined): { handler: Handler; errors: typeof Errors } {
  if (grace === undefined) delete process.env.PRINCIPAL_GRACE_SECONDS;
  else process.env.PRINCIPAL_GRACE_SECONDS = grace;
  const loaded: { handler?: Handler; errors?: typeof Errors } = {};
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    loaded.errors = require('../../functions/lib/errors');
    loaded.handler = require('../../functions/worker-thing/handler').handler;
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  return loaded as { handler: Handler; errors: typeof Errors };
}

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
  Object.assign(process.env, {
    ...workerLambdaEnv(moto.endpoint),
  });
});
afterAll(async () => {
  process.env = saved;
  await moto?.stop();
});
beforeEach(() => moto.reset());

/** A thing without certificate in the primary, and its CREATED event `ageSeconds` old. */
async function bareThing(name: string, ageSeconds: number) {
  await createThing(env.primary, name);
  return workerInput(thingEvent(PRIMARY, 'CREATED', { name, timestamp: Date.now() - ageSeconds * 1000 }));
}

const principalsInSecondary = async (name: string) =>
  (await env.secondary.iot.send(new ListThingPrincipalsCommand({ thingName: name }))).principals ?? [];

describe('Worker principal grace (PRINCIPAL_GRACE_SECONDS)', () => {
  it('waits while the event is younger than the configured grace, and replicates without certificate after it', async () => {
    // Given a worker with a 60 s grace
    const { handler: worker, errors } = thingWorker('60');
    // When a thing without certificate comes with a 30 s old event
    const young = await worker(await bareThing('young', 30)).catch((e: unknown) => e);
    // Then it asks the workflow to wait (a RetryableError subclass, named for its own retrier)
    expect(young).toBeInstanceOf(errors.PrincipalPendingError);
    expect(young).toBeInstanceOf(errors.RetryableError);
    expect(young).toMatchObject({ name: 'PrincipalPendingError', context: { thingName: 'young' } });
    expect((young as Error).message).toContain('grace 60 s');
    // ...and a 90 s old event is past the grace: the thing is replicated without certificate
    const old = await worker(await bareThing('old', 90));
    expect(old.outcomes).toContainEqual({ kind: 'thing', name: 'old', action: 'created' });
    expect(await principalsInSecondary('old')).toEqual([]);
  });

  it('defaults to 300 s when the variable is unset, and waits not at all with 0', async () => {
    const input = await bareThing('four-minutes-old', 240);
    await expect(thingWorker(undefined).handler(input)).rejects.toMatchObject({ name: 'PrincipalPendingError' });
    await expect(thingWorker('').handler(input)).rejects.toMatchObject({ name: 'PrincipalPendingError' });
    // A grace of 0: even a brand-new thing is replicated at once (reconciliation adds a late certificate)
    const fresh = await bareThing('fresh', 0);
    const outcomes = (await thingWorker('0').handler(fresh)).outcomes;
    expect(outcomes).toContainEqual({ kind: 'thing', name: 'fresh', action: 'created' });
  });

  it.each([-1, 3_600_001, Number.NaN])('createContext rejects principalGraceMs %p with a ConfigurationError', (ms) => {
    expect(() =>
      createContext({
        originRegion: 'us-east-1',
        targetRegion: 'us-west-2',
        mode: 'complete',
        principalGraceMs: ms,
      }),
    ).toThrow(new ConfigurationError(`principalGraceMs must be from 0 to 3600000 milliseconds (got ${ms})`));
  });

  it.each(['abc', '-1', '3601', '1.5', '30s', '1e2'])(
    'fails the cold start on PRINCIPAL_GRACE_SECONDS=%p with a ConfigurationError naming it and the rule',
    (value) => {
      let error: unknown;
      try {
        thingWorker(value);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ name: 'ConfigurationError' });
      expect((error as Error).message).toBe(
        `environment variable PRINCIPAL_GRACE_SECONDS must be a whole number from 0 to 3600 (got "${value}")`,
      );
    },
  );
});
