// `iot-dr copy --read-mode`: things read through fleet indexing (SearchIndex) or with per-thing
// calls, on moto behind the quota proxy.
//
// moto (5.2.5) implements SearchIndex without pagination (every match in one answer), whatever the
// indexing configuration says, with every named shadow and never the classic one in the
// documents. These tests go through the loopback proxy (cli/quota-proxy.ts), which answers
// SearchIndex from OUR EMULATION of the documented API (cli/iot-emulation.ts): index OFF ->
// ResourceNotFoundException, maxResults 1-100, nextToken pages, the classic shadow with
// REGISTRY_AND_SHADOW and only the named shadows of the indexing filter. moto keeps the indexing
// configuration itself (UpdateIndexingConfiguration / GetIndexingConfiguration pass through).
import { join } from 'node:path';
import { IoTClient, SearchIndexCommand, UpdateIndexingConfigurationCommand } from '@aws-sdk/client-iot';
import type { CopySummary } from '../../cli/commands/copy';
import type { VerifyReport } from '../../cli/commands/verify';
import { startQuotaProxy, type QuotaProxy } from '../../cli/quota-proxy';
import { IOT_API_QUOTAS_TPS } from '../../cli/rate-limits';
import { diffSnapshots, indexedShadows, snapshotRegion, type FleetSnapshot } from '../../functions/lib/fleet';
import { updateShadow, type Side } from '../support/fleet';
import { FAKE_CREDENTIALS, startMoto, type Moto } from '../support/moto';
import { cli, parseJson, PRIMARY, scratchDir, seedFleet, sides, useFakeCredentials } from './helpers';

let moto: Moto;

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
});
afterAll(async () => {
  await moto?.stop();
});

const iot = (endpoint: string, region = PRIMARY) =>
  new IoTClient({ region, endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 1 });

async function indexing(side: Side, mode: 'OFF' | 'REGISTRY' | 'REGISTRY_AND_SHADOW', named: string[] = []): Promise<void> {
  await side.iot.send(
    new UpdateIndexingConfigurationCommand({
      thingIndexingConfiguration: {
        thingIndexingMode: mode,
        ...(named.length ? { namedShadowIndexingMode: 'ON', filter: { namedShadowNames: named } } : {}),
      },
    }),
  );
}

/** The seeded fleet (7 things), plus a named shadow the index filter leaves out. */
async function seed(): Promise<void> {
  await moto.reset();
  const { primary } = sides(moto.endpoint);
  await seedFleet(primary, 6);
  await updateShadow(primary, 'dev-3', 'diagnostics', { reported: { uptime: 5 } });
  await updateShadow(primary, 'dev-4', 'config', { desired: { mode: 'boost' }, reported: { mode: 'eco' } });
}

describe('SearchIndex emulation (what moto lacks)', () => {
  let proxy: QuotaProxy;
  beforeAll(async () => {
    proxy = await startQuotaProxy({ upstream: moto.endpoint, enforceQuotas: false });
  });
  afterAll(async () => proxy?.stop());

  it('refuses while thing indexing is OFF, pages with nextToken, and holds only the indexed shadows', async () => {
    await seed();
    const client = iot(proxy.endpoint);
    // Given thing indexing OFF, Then there is no index to search
    await expect(client.send(new SearchIndexCommand({ queryString: 'thingName:*' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    // Given REGISTRY_AND_SHADOW with the named shadow `config` indexed
    await indexing(sides(moto.endpoint).primary, 'REGISTRY_AND_SHADOW', ['config']);
    // Then more than 100 per page is refused (the API reference: cannot exceed 100)
    await expect(client.send(new SearchIndexCommand({ queryString: 'thingName:*', maxResults: 101 }))).rejects.toMatchObject({
      name: 'InvalidRequestException',
    });
    // When reading 3 at a time, Then every thing comes once, over 3 pages chained by nextToken
    const pages: string[][] = [];
    const docs = new Map<string, Record<string, unknown>>();
    let nextToken: string | undefined;
    do {
      const page = await client.send(new SearchIndexCommand({ queryString: 'thingName:*', maxResults: 3, nextToken }));
      pages.push((page.things ?? []).map((t) => t.thingName as string));
      for (const t of page.things ?? []) docs.set(t.thingName as string, t as Record<string, unknown>);
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect([...docs.keys()].sort()).toEqual(['dev-1', 'dev-2', 'dev-3', 'dev-4', 'dev-5', 'dev-6', 'gw-1']);
    // And each document has the registry fields of a ThingDocument
    expect(docs.get('dev-1')).toMatchObject({ thingTypeName: 'sensor', attributes: { site: 'a', serial: '1001' }, thingGroupNames: ['site-a'] });
    expect(docs.get('dev-1')).not.toHaveProperty('thingArn');
    // And the shadows the configuration indexes: dev-1's classic, dev-2's and dev-4's `config`, not dev-3's `diagnostics`
    const shadows = (name: string) =>
      indexedShadows(docs.get(name)?.shadow as string | undefined, { registry: true, classicShadow: true, namedShadows: ['config', 'diagnostics'] });
    expect(shadows('dev-1')['']).toMatchObject({ state: { reported: { temperature: 21 }, desired: { interval: 60 } }, version: 1 });
    expect(shadows('dev-4').config).toMatchObject({ state: { desired: { mode: 'boost' }, reported: { mode: 'eco' } } });
    expect(Object.keys(shadows('dev-2'))).toEqual(['config']);
    expect(shadows('dev-3')).toEqual({});
    // Given REGISTRY only, Then no shadow at all
    await indexing(sides(moto.endpoint).primary, 'REGISTRY');
    const registry = await client.send(new SearchIndexCommand({ queryString: 'thingName:dev-1' }));
    expect(registry.things?.map((t) => [t.thingName, t.shadow])).toEqual([['dev-1', undefined]]);
  });
});

describe('SearchIndex quota in the proxy', () => {
  it('admits one second of SearchIndex at its table TPS, then throttles as AWS does', async () => {
    await seed();
    await indexing(sides(moto.endpoint).primary, 'REGISTRY');
    let clock = 5_000_000;
    const proxy = await startQuotaProxy({ upstream: moto.endpoint, now: () => clock });
    try {
      const quota = IOT_API_QUOTAS_TPS.SearchIndex;
      expect(proxy.quota('SearchIndex')).toBe(quota);
      const client = iot(proxy.endpoint);
      for (let i = 0; i < quota; i++) await client.send(new SearchIndexCommand({ queryString: 'thingName:dev-1' }));
      await expect(client.send(new SearchIndexCommand({ queryString: 'thingName:dev-1' }))).rejects.toMatchObject({ name: 'ThrottlingException' });
      expect(proxy.stats.get(`${PRIMARY}:SearchIndex`)).toEqual({ admitted: quota, throttled: 1 });
      clock += 1000 / quota;
      expect((await client.send(new SearchIndexCommand({ queryString: 'thingName:dev-1' }))).things?.map((t) => t.thingName)).toEqual(['dev-1']);
    } finally {
      await proxy.stop();
    }
  });
});

describe('iot-dr copy --read-mode', () => {
  let scratch: ReturnType<typeof scratchDir>;
  beforeAll(() => {
    scratch = scratchDir();
  });
  afterAll(() => scratch?.cleanup());

  /** Copies the seeded fleet through a quota-enforcing proxy, then verifies; the secondary's snapshot. */
  async function copyAndVerify(readMode: string, env: NodeJS.ProcessEnv = {}) {
    const proxy = await startQuotaProxy({ upstream: moto.endpoint });
    try {
      const common = ['--endpoint', proxy.endpoint, '--rate-limit', '100'];
      const copy = await cli(
        ['copy', ...common, '--read-mode', readMode, '--concurrency', '8', '--json', '--checkpoint', join(scratch.dir, `${readMode}.json`)],
        { cwd: scratch.dir, env: { ...process.env, IOT_DR_CONFIG: '', ...env } },
      );
      const summary = parseJson<CopySummary>(copy.stdout);
      expect(summary.failures).toEqual([]);
      expect(copy.code).toBe(0);
      const verify = await cli(['verify', ...common, '--json'], { cwd: scratch.dir });
      expect(parseJson<VerifyReport>(verify.stdout).differences).toEqual([]);
      const admitted = [...proxy.stats.values()].reduce((n, s) => n + s.admitted, 0);
      const throttled = [...proxy.stats.values()].reduce((n, s) => n + s.throttled, 0);
      // Each seed creates new certificates (new ids): the snapshots compared across seeds leave
      // principals out; verify above compared them against the primary.
      const secondary = await snapshotRegion(sides(moto.endpoint).secondary, { principals: false });
      const certificates = (await snapshotRegion(sides(moto.endpoint).secondary, { shadows: false })).certificates.size;
      return { summary, admitted, throttled, secondary, certificates };
    } finally {
      await proxy.stop();
    }
  }

  const things = (s: FleetSnapshot) => [...s.things.values()].map((t) => ({ ...t, shadows: t.shadows })).sort((a, b) => a.name.localeCompare(b.name));

  it('gives the same secondary through the index (pages of 2) as with per-thing calls, with fewer calls per thing', async () => {
    // Given the fleet, shadow indexing on with the named shadow `config` (not `diagnostics`)
    await seed();
    await indexing(sides(moto.endpoint).primary, 'REGISTRY_AND_SHADOW', ['config']);
    // When copying with per-thing calls
    const api = await copyAndVerify('api');
    // And, from the same primary into an empty secondary, through the index 2 things per page
    await seed();
    await indexing(sides(moto.endpoint).primary, 'REGISTRY_AND_SHADOW', ['config']);
    const index = await copyAndVerify('auto', { IOT_DR_SEARCH_PAGE_SIZE: '2' });

    // Then both secondaries are the same, region against region (the fleet helpers' diff)
    expect(diffSnapshots(api.secondary, index.secondary)).toEqual([]);
    expect(things(index.secondary)).toEqual(things(api.secondary));
    expect(index.certificates).toBe(api.certificates);
    expect(index.secondary.things.get('dev-3')?.shadows).toHaveProperty('diagnostics'); // not indexed: read per thing
    expect(index.secondary.things.get('dev-4')?.shadows?.config).toBeDefined();
    // And the index mode read 7 things in 4 pages, answered groups and indexed shadows from them
    const phase = index.summary.thingPhase;
    expect(phase).toMatchObject({ readMode: 'index', things: 7, indexing: { classicShadow: true, namedShadows: ['config'] } });
    expect(phase?.apiCalls.SearchIndex).toBe(4);
    expect(phase?.apiCalls.ListThings).toBeUndefined();
    expect(phase?.answeredLocally.ListThingGroupsForThing).toBeGreaterThanOrEqual(7);
    expect(phase?.answeredLocally.GetThingShadow).toBeGreaterThanOrEqual(7);
    expect(api.summary.thingPhase).toMatchObject({ readMode: 'api', reason: '--read-mode api', answeredLocally: expect.any(Object) });
    // And fewer calls per thing, by the client's count and by the proxy's (everything it admitted)
    expect(phase?.callsPerThing).toBeLessThan(api.summary.thingPhase?.callsPerThing ?? 0);
    expect(index.admitted).toBeLessThan(api.admitted);
    expect(index.summary.thingPhase?.apiCalls.ListThingGroupsForThing ?? 0).toBeLessThan(api.summary.thingPhase?.apiCalls.ListThingGroupsForThing ?? 0);
    // And the things' policy was read at most once per region in the phase (the run's GetPolicy cache)
    expect(index.summary.thingPhase?.apiCalls.GetPolicy ?? 0).toBeLessThanOrEqual(2);
    expect(api.summary.thingPhase?.apiCalls.GetPolicy ?? 0).toBeLessThanOrEqual(2);
    expect(api.summary.thingPhase?.answeredLocally['GetPolicy (run cache)']).toBeGreaterThan(0);
  }, 180_000);

  it('falls back to per-thing calls when thing indexing is OFF; --read-mode index refuses then', async () => {
    await seed();
    const auto = await copyAndVerify('auto');
    expect(auto.summary.thingPhase).toMatchObject({ readMode: 'api', reason: `thing indexing is OFF in ${PRIMARY}` });
    expect(auto.summary.thingPhase?.apiCalls.SearchIndex).toBeUndefined();

    await seed();
    const refused = await cli(
      ['copy', '--endpoint', moto.endpoint, '--rate-limit', '0', '--read-mode', 'index', '--json', '--checkpoint', join(scratch.dir, 'refused.json')],
      { cwd: scratch.dir },
    );
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/thing indexing is OFF in us-east-1/);
  }, 180_000);

  it('copies in batches through the index (--limit, checkpoint), skipping what the checkpoint has', async () => {
    await seed();
    await indexing(sides(moto.endpoint).primary, 'REGISTRY_AND_SHADOW', ['config']);
    const proxy = await startQuotaProxy({ upstream: moto.endpoint, enforceQuotas: false });
    try {
      const run = async () =>
        parseJson<CopySummary>(
          (
            await cli(
              ['copy', '--endpoint', proxy.endpoint, '--rate-limit', '0', '--read-mode', 'index', '--limit', '3', '--json', '--checkpoint', join(scratch.dir, 'batches.json')],
              { cwd: scratch.dir, env: { ...process.env, IOT_DR_CONFIG: '', IOT_DR_SEARCH_PAGE_SIZE: '2' } },
            )
          ).stdout,
        );
      const first = await run();
      expect(first).toMatchObject({ things: 7, thingsCopied: 3, thingsRemaining: 4, skippedFromCheckpoint: 4 });
      const second = await run();
      expect(second).toMatchObject({ resumed: true, thingsCopied: 3, thingsRemaining: 1 });
      const third = await run();
      expect(third).toMatchObject({ thingsCopied: 1, thingsRemaining: 0, failures: [] });
      const verify = await cli(['verify', '--endpoint', proxy.endpoint, '--rate-limit', '0', '--json'], { cwd: scratch.dir });
      expect(parseJson<VerifyReport>(verify.stdout).differences).toEqual([]);
    } finally {
      await proxy.stop();
    }
  }, 180_000);

  it('reads registry-only indexes for groups and keeps reading shadows per thing', async () => {
    await seed();
    await indexing(sides(moto.endpoint).primary, 'REGISTRY');
    const index = await copyAndVerify('index', { IOT_DR_SEARCH_PAGE_SIZE: '3' });
    expect(index.summary.thingPhase).toMatchObject({ readMode: 'index', indexing: { classicShadow: false, namedShadows: [] } });
    expect(index.summary.thingPhase?.apiCalls.SearchIndex).toBe(3);
    expect(index.summary.thingPhase?.answeredLocally.GetThingShadow).toBeUndefined();
    expect(index.summary.thingPhase?.answeredLocally.ListThingGroupsForThing).toBeGreaterThanOrEqual(7);
    expect(index.throttled).toBe(0);
  }, 180_000);
});
