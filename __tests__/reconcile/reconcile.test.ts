// The reconciliation job against moto server (two regions, SSM cursor, failure table in the
// secondary): drift is found and repaired through the replication library, recorded failures are
// re-applied and deleted, the cursor walks the fleet slice by slice.
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteThingGroupCommand, UpdateThingCommand, UpdateThingGroupCommand } from '@aws-sdk/client-iot';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DeleteThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { marshall } from '@aws-sdk/util-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { diffSnapshots, planRun, reconcile, repairThing, snapshotRegion } from '../../functions/lib/fleet';
import { reconciliationSizing, scheduleIntervalSeconds } from '../../stacks/reconciliation';
import { parseConfig } from '../../config/load';
import { createContext, type ReplicationContext, tableChangeLog } from '../../functions/lib/replication';
import { addToGroup, createDevice, createGroup, createThing, describeGroup, describeThing, readShadow, thingEvent, updateShadow } from '../support/fleet';
import { FAKE_CREDENTIALS, motoClient, startMoto, type Moto } from '../support/moto';
import { PRIMARY, SECONDARY, seedFleet, sides, useFakeCredentials } from '../cli/helpers';
import { createFailureTable } from '../workflow/harness';
import { createEventsTable, EVENTS_TABLE } from '../support/two-way';
import { CHANGED_KEY_ATTRIBUTE, DELETED_KEY_ATTRIBUTE } from '../../functions/lib/markers';

let moto: Moto;
let ctx: ReplicationContext;
let ssm: SSMClient;
let dynamodb: DynamoDBClient;
const TABLE = 'iot-dr-failures';
const CURSOR = '/iot-dr/reconciliation/cursor';

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  ssm = motoClient(SSMClient, moto.endpoint, SECONDARY);
  dynamodb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
});
afterAll(() => moto?.stop());

beforeEach(async () => {
  await moto.reset();
  ctx = createContext({
    originRegion: PRIMARY,
    targetRegion: SECONDARY,
    mode: 'complete',
    endpoint: moto.endpoint,
    credentials: { ...FAKE_CREDENTIALS },
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  await createFailureTable(dynamodb, TABLE);
});

async function copyAll(): Promise<void> {
  const { primary } = sides(moto.endpoint);
  for (const name of ['dev-1', 'dev-2', 'dev-3', 'dev-4', 'gw-1']) await repairThing(ctx, name);
  expect(primary.region).toBe(PRIMARY);
}

/** Runs the Lambda handler, loaded afresh with `env` (it reads its environment at load, as in Lambda). */
async function runHandler(env: Record<string, string>): Promise<Record<string, number>> {
  const full = { ...env, IOT_DR_AWS_ENDPOINT: moto.endpoint, POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const saved = { ...process.env };
  Object.assign(process.env, full);
  try {
    let handler: (() => Promise<Record<string, number>>) | undefined;
    jest.isolateModules(() => {
      handler = require('../../functions/reconcile/handler').handler;
    });
    return await handler!();
  } finally {
    for (const key of Object.keys(full)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

async function differences() {
  const { primary, secondary } = sides(moto.endpoint);
  const [p, s] = await Promise.all([snapshotRegion(primary), snapshotRegion(secondary)]);
  return diffSnapshots(p, s);
}

describe('reconcile', () => {
  it('repairs seeded drift and a recorded failure, then deletes the failure record', async () => {
    // Given matching regions...
    const { primary, secondary } = sides(moto.endpoint);
    await seedFleet(primary);
    await copyAll();
    expect(await differences()).toEqual([]);

    // ...that drift: attributes, a shadow, a group's attributes, a thing only in the secondary
    await secondary.iot.send(
      new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { site: 'z' }, merge: true } }),
    );
    await updateShadow(secondary, 'dev-2', 'config', { desired: { mode: 'boost' } });
    await secondary.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName: 'site-a',
        thingGroupProperties: { attributePayload: { attributes: { city: 'lyon' } } },
      }),
    );
    await createThing(secondary, 'ghost');
    // ...and a thing whose replication failed, recorded by the workflow
    await createDevice(primary, 'late-1', { attributes: { batch: '7' }, policy: 'device-policy' });
    const failed = thingEvent(PRIMARY, 'CREATED', { name: 'late-1', attributes: { batch: '7' } });
    await dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          eventId: { S: 'evt-1' },
          event: { S: JSON.stringify(failed) },
          error: { S: 'RetryableError' },
          cause: { S: 'throttled' },
          attempts: { N: '10' },
          failedAt: { S: new Date().toISOString() },
          expires: { N: String(Math.floor(Date.now() / 1000) + 86400) },
        },
      }),
    );
    expect((await differences()).length).toBeGreaterThanOrEqual(5);

    // When the job runs over the whole fleet
    const result = await reconcile({
      ctx,
      ssm,
      cursorParameter: CURSOR,
      thingsPerRun: 100,
      failures: { client: dynamodb, tableName: TABLE },
    });

    // Then everything matches again, the failure is repaired and its record deleted
    expect(result.repairErrors).toEqual([]);
    expect(result.thingsDrifted).toBeGreaterThanOrEqual(3); // dev-1, dev-2, ghost (+ late-1 when listed first)
    expect(result.registryRepaired).toBe(1); // site-a
    expect(result.failuresRetried).toBe(1);
    expect(result.failuresRemaining).toBe(0);
    expect(result.failuresRepaired).toBe(1);
    expect(result.outcomes.thing?.deleted).toBe(1); // ghost
    expect(await differences()).toEqual([]);
    expect(
      (await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { eventId: { S: 'evt-1' } } }))).Item,
    ).toBeUndefined();
    expect(result.cursor).toMatchObject({ primary: null, secondary: null, passes: 1 });
  });

  it('repairs a thing group whose parent differs (hierarchy drift): recreated under the primary parent, memberships restored', async () => {
    // Given matching regions...
    const { primary, secondary } = sides(moto.endpoint);
    await seedFleet(primary);
    await copyAll();
    expect(await differences()).toEqual([]);
    // ...then the primary deletes site-a and recreates it at the top level, with a child group,
    // and the delete was missed: the secondary still has it under site
    await primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'site-a' }));
    await createGroup(primary, 'site-a', { attributes: { city: 'paris' } });
    await createGroup(primary, 'site-a-1', { parent: 'site-a' });
    await addToGroup(primary, 'site-a', 'dev-1');
    await addToGroup(primary, 'site-a-1', 'dev-2');
    expect((await differences()).map((d) => `${d.kind}:${d.resource}:${d.name}`)).toEqual(
      expect.arrayContaining(['hierarchy:thingGroup:site-a', 'missing:thingGroup:site-a-1', 'group:thing:dev-2']),
    );

    // When the job runs
    const result = await reconcile({ ctx, ssm, cursorParameter: CURSOR, thingsPerRun: 100 });

    // Then the group is recreated under the primary's (no) parent, and everything matches
    expect(result.repairErrors).toEqual([]);
    expect(result.outcomes.thingGroup?.updated).toBeGreaterThanOrEqual(1);
    // the group repair alone restored the memberships: no thing differed when the things were checked
    expect(result.thingsDrifted).toBe(0);
    expect((await describeGroup(secondary, 'site-a'))?.thingGroupMetadata?.parentGroupName).toBeUndefined();
    expect((await describeGroup(secondary, 'site-a-1'))?.thingGroupMetadata?.parentGroupName).toBe('site-a');
    expect(await differences()).toEqual([]);
  });

  it('keeps a failure that still fails, counting the attempt', async () => {
    await dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          eventId: { S: 'evt-bad' },
          event: { S: JSON.stringify({ eventType: 'NOT_AN_EVENT' }) },
          attempts: { N: '3' },
        },
      }),
    );
    const result = await reconcile({
      ctx,
      ssm,
      cursorParameter: CURSOR,
      thingsPerRun: 10,
      failures: { client: dynamodb, tableName: TABLE },
    });
    expect(result.failuresRemaining).toBe(1);
    const item = (await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { eventId: { S: 'evt-bad' } } })))
      .Item;
    expect(item?.attempts?.N).toBe('4');
    expect(item?.error?.S).toBe('InvalidEventError');
  });

  it('verifies a bounded slice per run and resumes from the stored cursor', async () => {
    // Given 5 things in the primary, none replicated
    const { primary } = sides(moto.endpoint);
    for (let i = 0; i < 5; i++) await createThing(primary, `t-${i}`);

    // When runs check 2 things each
    const first = await reconcile({ ctx, ssm, cursorParameter: CURSOR, thingsPerRun: 2 });
    const stored = JSON.parse(
      (await ssm.send(new GetParameterCommand({ Name: CURSOR, WithDecryption: true }))).Parameter?.Value ?? '{}',
    );
    const second = await reconcile({ ctx, ssm, cursorParameter: CURSOR, thingsPerRun: 2 });
    const third = await reconcile({ ctx, ssm, cursorParameter: CURSOR, thingsPerRun: 2 });

    // Then each run repairs its own slice, the cursor moves on, and the third run ends the pass
    expect(first.thingsChecked).toBeGreaterThanOrEqual(2);
    expect(first.thingsRepaired).toBe(2);
    expect(stored.primary).toEqual(expect.any(String));
    expect(stored.passes).toBe(0);
    expect(second.thingsRepaired).toBe(2);
    expect(third.thingsRepaired).toBe(1);
    expect(third.cursor.primary).toBeNull();
    expect(third.cursor.passes).toBe(1);
    expect(await differences()).toEqual([]);
  });

  it('starts the pass over when the stored token is no longer valid', async () => {
    const { primary } = sides(moto.endpoint);
    for (let i = 0; i < 3; i++) await createThing(primary, `s-${i}`);
    await ssm.send(
      new PutParameterCommand({
        Name: CURSOR,
        Type: 'SecureString',
        Overwrite: true,
        Value: JSON.stringify({ primary: 'not-a-token', secondary: null, passes: 4 }),
      }),
    );
    const result = await reconcile({ ctx, ssm, cursorParameter: CURSOR, thingsPerRun: 10 });
    expect(result.thingsRepaired).toBe(3);
    expect(result.cursor).toMatchObject({ primary: null, secondary: null, passes: 5 });
  });

  it('runs as the Lambda handler with its environment (no failure table configured)', async () => {
    const { primary } = sides(moto.endpoint);
    await createThing(primary, 'h-1');
    const result = await runHandler({
      ORIGIN_REGION: PRIMARY,
      TARGET_REGION: SECONDARY,
      REPLICATION_MODE: 'complete',
      CURSOR_PARAMETER: CURSOR,
      THINGS_PER_RUN: '50',
    });
    expect(result).toEqual(expect.objectContaining({ thingsChecked: 1, thingsRepaired: 1, failuresRepaired: 0 }));
  });

  it('two-way: the reverse instance (in the primary) re-applies a failure of the reverse workflow into the PRIMARY, from its own table only', async () => {
    // Given a thing provisioned in the secondary (during a failover) whose replication to the
    // primary failed: the reverse workflow recorded it in ITS failure table, in the primary
    const { primary, secondary } = sides(moto.endpoint);
    const primaryDb = motoClient(DynamoDBClient, moto.endpoint, PRIMARY);
    const primarySsm = motoClient(SSMClient, moto.endpoint, PRIMARY);
    const REVERSE_TABLE = `${TABLE}-to-primary`;
    const REVERSE_CURSOR = `${CURSOR}-to-primary`;
    await createFailureTable(primaryDb, REVERSE_TABLE);
    await createThing(secondary, 'field-7', { attributes: { site: 'oslo' } });
    const failed = thingEvent(SECONDARY, 'CREATED', { name: 'field-7', attributes: { site: 'oslo' }, timestamp: Date.now() - 3_600_000 });
    // ...and a thing deleted in the secondary whose delete failed too: only that recorded DELETED
    // event may remove it from the primary (the merge drift pass keeps a target's thing the origin
    // lacks), so its removal proves the re-apply wrote into the primary
    await createThing(primary, 'gone-7');
    const deleted = thingEvent(SECONDARY, 'DELETED', { name: 'gone-7' });
    for (const [id, event] of [['evt-rev-1', failed], ['evt-rev-2', deleted]] as const) {
      await primaryDb.send(
        new PutItemCommand({
          TableName: REVERSE_TABLE,
          Item: { eventId: { S: id }, event: { S: JSON.stringify(event) }, error: { S: 'RetryableError' }, attempts: { N: '10' } },
        }),
      );
    }
    // ...a thing only the primary has (its own: merge keeps it), and a failure of the FORWARD
    // workflow in the secondary's table, which is not this instance's to touch
    await createThing(primary, 'prim-only');
    await dynamodb.send(
      new PutItemCommand({ TableName: TABLE, Item: { eventId: { S: 'evt-fwd-1' }, event: { S: JSON.stringify({ eventType: 'NOT_AN_EVENT' }) } } }),
    );

    // When the reverse instance's handler runs with the environment the stack gives it
    const result = await runHandler({
      ORIGIN_REGION: SECONDARY,
      TARGET_REGION: PRIMARY,
      REPLICATION_MODE: 'complete',
      CONFLICT_POLICY: 'merge',
      CURSOR_PARAMETER: REVERSE_CURSOR,
      FAILURE_TABLE: REVERSE_TABLE,
      THINGS_PER_RUN: '50',
    });

    // Then the failure is re-applied into the primary and its record deleted
    expect(result).toEqual(expect.objectContaining({ failuresRepaired: 2, failuresRemaining: 0 }));
    expect((await describeThing(primary, 'field-7'))?.attributes).toEqual({ site: 'oslo' });
    expect(await describeThing(primary, 'gone-7')).toBeUndefined();
    for (const id of ['evt-rev-1', 'evt-rev-2']) {
      expect((await primaryDb.send(new GetItemCommand({ TableName: REVERSE_TABLE, Key: { eventId: { S: id } } }))).Item).toBeUndefined();
    }
    // ...the primary's own thing is kept, nothing was written into the secondary
    expect(await describeThing(primary, 'prim-only')).toBeDefined();
    expect(await describeThing(secondary, 'prim-only')).toBeUndefined();
    // ...its cursor lives in the primary, and the forward workflow's failure is untouched
    const cursor = await primarySsm.send(new GetParameterCommand({ Name: REVERSE_CURSOR, WithDecryption: true }));
    expect(JSON.parse(cursor.Parameter?.Value ?? '{}')).toMatchObject({ passes: 1 });
    await expect(ssm.send(new GetParameterCommand({ Name: REVERSE_CURSOR }))).rejects.toThrow();
    expect((await dynamodb.send(new GetItemCommand({ TableName: TABLE, Key: { eventId: { S: 'evt-fwd-1' } } }))).Item).toBeDefined();
    primaryDb.destroy();
    primarySsm.destroy();
  });

  it('two-way: the drift pass does not re-create a shadow its own region deleted after the origin\'s last write (tombstones)', async () => {
    // Given a shadow in both regions, deleted in the primary; the delete's tombstone is in the
    // primary's copy of the replication table, its event has not reached the secondary yet
    const { primary, secondary } = sides(moto.endpoint);
    const primaryDb = motoClient(DynamoDBClient, moto.endpoint, PRIMARY);
    await createEventsTable(primaryDb);
    for (const side of [primary, secondary]) {
      await createThing(side, 'lamp-9');
      await updateShadow(side, 'lamp-9', '', { reported: { on: true } });
    }
    await primary.data.send(new DeleteThingShadowCommand({ thingName: 'lamp-9' }));
    await primaryDb.send(
      new PutItemCommand({
        TableName: EVENTS_TABLE,
        Item: marshall({ uuid: 'del-1', originRegion: PRIMARY, [DELETED_KEY_ATTRIBUTE]: 'shadow/lamp-9/', timestamp: Math.floor(Date.now() / 1000) }),
      }),
    );
    const env = {
      ORIGIN_REGION: SECONDARY,
      TARGET_REGION: PRIMARY,
      REPLICATION_MODE: 'complete',
      CONFLICT_POLICY: 'merge',
      CURSOR_PARAMETER: `${CURSOR}-to-primary`,
      THINGS_PER_RUN: '50',
    };

    // When the reverse instance runs with the replication table (as the stack configures it)
    await runHandler({ ...env, TABLE_NAME: EVENTS_TABLE });
    // Then the delete wins: the primary's shadow stays deleted
    expect(await readShadow(primary, 'lamp-9')).toBeUndefined();

    // (Without the tombstones the same run would re-create it: what the lookup prevents.)
    await runHandler(env);
    expect((await readShadow(primary, 'lamp-9'))?.state).toEqual({ reported: { on: true } });
    primaryDb.destroy();
  });

  it('two-way: the drift pass settles delete vs change of a thing from the change log when the event itself was lost', async () => {
    // Given the secondary's copy of the replication table (a global table: both regions' events)
    // and a drift pass into the secondary under merge, with the change log as deployed
    const { primary, secondary } = sides(moto.endpoint);
    const secondaryDb = motoClient(DynamoDBClient, moto.endpoint, SECONDARY);
    await createEventsTable(secondaryDb);
    const now = Date.now();
    let n = 0;
    const event = (originRegion: string, key: string, attribute: string, at: number) =>
      secondaryDb.send(new PutItemCommand({ TableName: EVENTS_TABLE, Item: marshall({ uuid: `evt-${++n}`, originRegion, [attribute]: key, timestamp: at }) }));
    const merge = createContext({
      originRegion: PRIMARY,
      targetRegion: SECONDARY,
      mode: 'thing-only',
      conflicts: 'merge',
      endpoint: moto.endpoint,
      credentials: { ...FAKE_CREDENTIALS },
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      changes: tableChangeLog({ tableName: EVENTS_TABLE, region: SECONDARY, endpoint: moto.endpoint }),
    });

    // 1. The secondary deleted a thing the primary still has (its DELETED event never reached the
    //    primary): the delete stands, the thing is not re-created...
    await createThing(primary, 'del-in-target');
    await event(PRIMARY, 'thing/del-in-target', CHANGED_KEY_ATTRIBUTE, now - 60_000);
    await event(SECONDARY, 'thing/del-in-target', DELETED_KEY_ATTRIBUTE, now - 30_000);
    // ...unless the primary changed it after the delete (later wins)
    await createThing(primary, 'changed-after');
    await event(SECONDARY, 'thing/changed-after', DELETED_KEY_ATTRIBUTE, now - 30_000);
    await event(PRIMARY, 'thing/changed-after', CHANGED_KEY_ATTRIBUTE, now - 10_000);
    // 2. The primary deleted a thing the secondary still has (the primary's DELETED event was
    //    lost): the delete is applied...
    await createThing(secondary, 'del-in-origin');
    await event(SECONDARY, 'thing/del-in-origin', CHANGED_KEY_ATTRIBUTE, now - 60_000);
    await event(PRIMARY, 'thing/del-in-origin', DELETED_KEY_ATTRIBUTE, now - 30_000);
    // ...unless the secondary changed it after that delete, or at the same millisecond the delete wins
    await createThing(secondary, 'kept-newer');
    await event(PRIMARY, 'thing/kept-newer', DELETED_KEY_ATTRIBUTE, now - 30_000);
    await event(SECONDARY, 'thing/kept-newer', CHANGED_KEY_ATTRIBUTE, now - 10_000);
    await createThing(secondary, 'tie');
    await event(PRIMARY, 'thing/tie', DELETED_KEY_ATTRIBUTE, now - 30_000);
    await event(SECONDARY, 'thing/tie', CHANGED_KEY_ATTRIBUTE, now - 30_000);
    // 3. A thing only the secondary has, with no delete known anywhere: its own, kept
    await createThing(secondary, 'own');

    // When the drift pass repairs each of them into the secondary
    for (const name of ['del-in-target', 'changed-after', 'del-in-origin', 'kept-newer', 'tie', 'own']) await repairThing(merge, name);

    // Then the later operation won in each case, the delete on a tie
    expect(await describeThing(secondary, 'del-in-target')).toBeUndefined();
    expect(await describeThing(secondary, 'changed-after')).toBeDefined();
    expect(await describeThing(secondary, 'del-in-origin')).toBeUndefined();
    expect(await describeThing(secondary, 'kept-newer')).toBeDefined();
    expect(await describeThing(secondary, 'tie')).toBeUndefined();
    expect(await describeThing(secondary, 'own')).toBeDefined();
    secondaryDb.destroy();
  });

  it('fails loudly when the handler environment is incomplete', () => {
    const saved = process.env.THINGS_PER_RUN;
    Object.assign(process.env, {
      ORIGIN_REGION: PRIMARY,
      TARGET_REGION: SECONDARY,
      REPLICATION_MODE: 'complete',
      CURSOR_PARAMETER: CURSOR,
      THINGS_PER_RUN: 'lots',
    });
    try {
      expect(() => jest.isolateModules(() => require('../../functions/reconcile/handler'))).toThrow(
        /THINGS_PER_RUN must be a whole number >= 1 \(got "lots"\)/,
      );
    } finally {
      for (const key of ['ORIGIN_REGION', 'TARGET_REGION', 'REPLICATION_MODE', 'CURSOR_PARAMETER'])
        delete process.env[key];
      if (saved === undefined) delete process.env.THINGS_PER_RUN;
      else process.env.THINGS_PER_RUN = saved;
    }
  });

  it('names the missing variable when the handler has no region pair (ORIGIN_REGION/TARGET_REGION)', () => {
    Object.assign(process.env, { TARGET_REGION: SECONDARY, REPLICATION_MODE: 'complete', CURSOR_PARAMETER: CURSOR, THINGS_PER_RUN: '5' });
    try {
      expect(() => jest.isolateModules(() => require('../../functions/reconcile/handler'))).toThrow(/ORIGIN_REGION/);
    } finally {
      for (const key of ['TARGET_REGION', 'REPLICATION_MODE', 'CURSOR_PARAMETER', 'THINGS_PER_RUN']) delete process.env[key];
    }
  });

  it('sizes runs to the fleet: the formula, and the full-pass times of 100,000 and 1,000,000 things with the defaults', () => {
    // Given the configuration's default sizing (rate(15 minutes), 24 h target, 25 % of 10 TPS) and the 900 s timeout
    const defaults = parseConfig({}).reconciliation;
    expect(defaults).toMatchObject({ schedule: 'rate(15 minutes)', fullPassHours: 24, quotaSharePercent: 25, readQuotaTps: 10 });
    const sized = (instances: number, overrides: Partial<typeof defaults> = {}) => {
      const env = reconciliationSizing({ ...defaults, ...overrides }, 900, instances);
      return {
        fullPassHours: Number(env.FULL_PASS_HOURS),
        runIntervalSeconds: Number(env.RUN_INTERVAL_SECONDS),
        runBudgetSeconds: Number(env.RUN_BUDGET_SECONDS),
        maxThingsPerSecond: Number(env.MAX_THINGS_PER_SECOND),
      };
    };
    // One-way (one instance): 2.5 things/s, at most 2.5 x 840 s = 2100 per run
    const sizing = sized(1);
    expect(sizing).toEqual({ fullPassHours: 24, runIntervalSeconds: 900, runBudgetSeconds: 840, maxThingsPerSecond: 2.5 });
    // Then 100,000 things: ceil(100000 x 900 / 86400) = 1042 per run, a pass in 24 h
    expect(planRun(sizing, 100_000, 500)).toEqual({ thingsPerRun: 1042, fullPassHours: 24, quotaBound: false });
    // 1,000,000 things: capped at 2100 per run, a pass in 477 runs = 119.25 h
    expect(planRun(sizing, 1_000_000, 500)).toEqual({ thingsPerRun: 2100, fullPassHours: 119.25, quotaBound: true });
    // ...in 24 h with ListThingPrincipals raised to 70 TPS (25 % = 17.5 things/s, 14700 per run)
    expect(planRun(sized(1, { readQuotaTps: 70 }), 1_000_000, 500).fullPassHours).toBe(24);
    // A small fleet runs the minimum; an unknown fleet (first pass) the cap
    expect(planRun(sizing, 1000, 500)).toMatchObject({ thingsPerRun: 500 });
    expect(planRun(sizing, 0, 500)).toEqual({ thingsPerRun: 2100, fullPassHours: null, quotaBound: true });
    // Two-way, the default (two instances, one per direction, reading the same quota): each gets
    // half the share, 1.25 things/s and 1050 per run, so the account's reads stay at 25 %; 100,000
    // things still pass in 24 h (1042 per run), 1,000,000 in 953 runs = 238.25 h
    const half = sized(2);
    expect(half.maxThingsPerSecond).toBe(1.25);
    expect(planRun(half, 12_000, 500)).toEqual({ thingsPerRun: 500, fullPassHours: 6, quotaBound: false });
    expect(planRun(half, 100_000, 500)).toEqual({ thingsPerRun: 1042, fullPassHours: 24, quotaBound: false });
    expect(planRun(half, 1_000_000, 500)).toEqual({ thingsPerRun: 1050, fullPassHours: 238.25, quotaBound: true });
    // ...34.25 h with ListThingPrincipals raised to 70 TPS (8.75 things/s each, 7350 per run)
    expect(planRun(sized(2, { readQuotaTps: 70 }), 1_000_000, 500)).toEqual({ thingsPerRun: 7350, fullPassHours: 34.25, quotaBound: true });
    // ...and a share of 20 % (10 % per direction) no longer passes over 100,000 in a day
    expect(planRun(sized(2, { quotaSharePercent: 20 }), 100_000, 500)).toEqual({ thingsPerRun: 840, fullPassHours: 30, quotaBound: true });
    expect(scheduleIntervalSeconds('rate(1 hour)')).toBe(3600);
    expect(scheduleIntervalSeconds('rate(2 days)')).toBe(172800);
    expect(scheduleIntervalSeconds('cron(0 * * * ? *)')).toBe(3600);
  });

  it('reports pass progress across runs, learns the fleet size, and paces checks at the quota share', async () => {
    // Given 5 things copied, and runs sized at 1 thing/s for 2 s (cap 2), a clock moved by the pacing only
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary);
    await copyAll();
    let clock = 0;
    const waits: number[] = [];
    const paced = {
      ctx,
      ssm,
      cursorParameter: CURSOR,
      thingsPerRun: 1,
      concurrency: 1,
      sizing: { fullPassHours: 1, runIntervalSeconds: 3600, runBudgetSeconds: 2, maxThingsPerSecond: 1 },
      now: () => clock,
      sleep: async (ms: number) => {
        waits.push(ms);
        clock += ms;
      },
    };

    // When the first pass runs (fleet size unknown: each run checks the cap)
    const runs = [await reconcile(paced), await reconcile(paced), await reconcile(paced)];

    // Then progress is unknown until the pass ends, which sets the fleet size
    expect(runs.map((r) => r.thingsChecked)).toEqual([2, 2, 1]);
    expect(runs.map((r) => r.passProgressPercent)).toEqual([null, null, 100]);
    expect(runs[2].cursor).toMatchObject({ passes: 1, fleetSize: 5, checkedInPass: 0 });
    // ...and the second check of each run waited its turn (1 thing/s)
    expect(waits).toEqual([1000, 1000]);

    // When the second pass starts, Then the run is sized (5 things in 1 h at one run an hour: 5, capped at 2)
    const next = await reconcile(paced);
    expect(next.plan).toEqual({ thingsPerRun: 2, fullPassHours: 3, quotaBound: true });
    expect(next.passProgressPercent).toBe(40);
  });
});
