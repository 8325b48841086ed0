// The conflict rule's bookkeeping reads (functions/lib/replication/change-log.ts) against the
// replication table on moto with the stack's indexes: each lookup returns only the named
// resource's events of the named region, in the asked time range.
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { type ChangeLog, tableChangeLog } from '../../functions/lib/replication';
import { emulatedLambdaEnv, motoClient, startMoto, type Moto } from '../support/moto';
import { createReplicationTable } from '../support/replication-table';

const TABLE = 'iot-dr-events';
const P = 'us-east-1';
const S = 'us-west-2';
let moto: Moto;
let ddb: DynamoDBClient;
let log: ChangeLog;
const saved = { ...process.env };
let n = 0;

/** One captured item as the capture rules write it (only the fields the lookups read, plus a key). */
async function put(region: string, fields: Record<string, unknown>) {
  await ddb.send(new PutItemCommand({ TableName: TABLE, Item: marshall({ uuid: `u${++n}`, originRegion: region, ...fields }) as never }));
}

beforeAll(async () => {
  moto = await startMoto();
  Object.assign(process.env, emulatedLambdaEnv(moto.endpoint));
  ddb = motoClient(DynamoDBClient, moto.endpoint, P);
  await createReplicationTable(ddb, TABLE);
  log = tableChangeLog({ tableName: TABLE, region: P, endpoint: moto.endpoint });
  // Registry events (epoch ms) of thing/lamp in both regions, and of another thing
  await put(S, { timestamp: 1_000, deletedKey: 'thing/lamp' });
  await put(P, { timestamp: 2_000, deletedKey: 'thing/lamp' });
  await put(P, { timestamp: 1_500, changedKey: 'thing/lamp' });
  await put(P, { timestamp: 3_000, changedKey: 'thing/lamp' });
  await put(S, { timestamp: 9_000, changedKey: 'thing/lamp' });
  await put(P, { timestamp: 9_000, changedKey: 'thing/other' });
  // Shadow removal updates (epoch s) of lamp's classic shadow, with their accepted state
  await put(P, { timestamp: 100, removedKey: 'shadow/lamp/', state: { reported: { mode: null } } });
  await put(P, { timestamp: 120, removedKey: 'shadow/lamp/', state: { desired: null, reported: { x: 1 } } });
  await put(S, { timestamp: 130, removedKey: 'shadow/lamp/', state: { reported: { y: null } } });
  await put(P, { timestamp: 140, removedKey: 'shadow/lamp/ota', state: { reported: { z: null } } });
  // A shadow delete (epoch s: read as ms x 1000)
  await put(P, { timestamp: 50, deletedKey: 'shadow/lamp/' });
}, 60_000);

afterAll(async () => {
  process.env = saved;
  ddb?.destroy();
  await moto?.stop();
});

describe('ChangeLog over the replication table (moto)', () => {
  it('deletedAfter: the latest delete of that resource by that region, strictly after the bound', async () => {
    expect(await log.deletedAfter('thing/lamp', P, 1_999)).toBe(2_000);
    expect(await log.deletedAfter('thing/lamp', P, 2_000)).toBeUndefined();
    expect(await log.deletedAfter('thing/lamp', S, 0)).toBe(1_000);
    expect(await log.deletedAfter('shadow/lamp/', P, 49_999)).toBe(50_000);
  });

  it('changedAfter: the latest create/update by that region, strictly after the bound (sort key range)', async () => {
    expect(await log.changedAfter('thing/lamp', P, 1_000)).toBe(3_000);
    expect(await log.changedAfter('thing/lamp', P, 3_000)).toBeUndefined(); // a tie is no later change
    expect(await log.changedAfter('thing/lamp', S, 0)).toBe(9_000);
    expect(await log.changedAfter('thing/missing', P, 0)).toBeUndefined();
  });

  it('removalsSince: that shadow\'s removal updates by that region from the bound on, oldest first, with their state', async () => {
    expect(await log.removalsSince('shadow/lamp/', P, 100)).toEqual([
      { timestamp: 100, state: { reported: { mode: null } } },
      { timestamp: 120, state: { desired: null, reported: { x: 1 } } },
    ]);
    expect(await log.removalsSince('shadow/lamp/', P, 101)).toEqual([{ timestamp: 120, state: { desired: null, reported: { x: 1 } } }]);
    expect(await log.removalsSince('shadow/lamp/', S, 0)).toEqual([{ timestamp: 130, state: { reported: { y: null } } }]);
    expect(await log.removalsSince('shadow/lamp/', P, 121)).toEqual([]);
  });
});
