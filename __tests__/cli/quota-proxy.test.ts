// The quota-enforcing emulator (cli/quota-proxy.ts): a proxy in front of moto with one token
// bucket per region and IoT operation at the documented default TPS, answering over-quota calls
// as AWS does (ThrottlingException: HTTP 400 from the control plane, 429 from the shadow data
// plane). Its clock is injected: no wall-clock bound.
import { IoTClient, ListThingPrincipalsCommand, ListThingsCommand, DescribeThingCommand } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient, GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { iotOperation, signingScope, startQuotaProxy, TokenBucket, type QuotaProxy } from '../../cli/quota-proxy';
import { IOT_API_QUOTAS_TPS } from '../../cli/rate-limits';
import { join } from 'node:path';
import type { CopySummary } from '../../cli/commands/copy';
import { createThing, twoRegions } from '../support/fleet';
import { cli, parseJson, scratchDir, seedFleet, sides, useFakeCredentials } from './helpers';
import { FAKE_CREDENTIALS, startMoto, type Moto } from '../support/moto';

let moto: Moto;
let proxy: QuotaProxy;
let clock = 1_000_000;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startQuotaProxy({ upstream: moto.endpoint, now: () => clock });
});
afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});

const client = (region: string, maxAttempts = 1) =>
  new IoTClient({ region, endpoint: proxy.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts });

describe('quota proxy', () => {
  it('maps requests to IoT operations by the SDK HTTP bindings, and reads the region from SigV4', () => {
    expect(iotOperation('GET', '/things')).toBe('ListThings');
    expect(iotOperation('GET', '/things?maxResults=250&nextToken=x')).toBe('ListThings');
    expect(iotOperation('GET', '/things/dev-1')).toBe('DescribeThing');
    expect(iotOperation('POST', '/things/dev-1')).toBe('CreateThing');
    expect(iotOperation('GET', '/things/dev-1/principals')).toBe('ListThingPrincipals');
    expect(iotOperation('PUT', '/things/dev-1/principals')).toBe('AttachThingPrincipal');
    expect(iotOperation('PUT', '/thing-groups/addThingToThingGroup')).toBe('AddThingToThingGroup');
    expect(iotOperation('GET', '/certificates/abc')).toBe('DescribeCertificate');
    expect(iotOperation('POST', '/indices/search')).toBe('SearchIndex');
    expect(iotOperation('GET', '/things/dev-1/shadow?name=cfg', 'iotdata')).toBe('GetThingShadow');
    expect(iotOperation('GET', '/api/things/shadow/ListNamedShadowsForThing/dev-1', 'iotdata')).toBe('ListNamedShadowsForThing');
    expect(
      signingScope('AWS4-HMAC-SHA256 Credential=testing/20261201/us-west-2/iot/aws4_request, SignedHeaders=host, Signature=x'),
    ).toEqual({ region: 'us-west-2', service: 'iot' });
  });

  it('refills a token bucket continuously up to its capacity', () => {
    const bucket = new TokenBucket(10, 10, 0);
    expect(Array.from({ length: 11 }, () => bucket.take(0)).filter(Boolean)).toHaveLength(10);
    expect(bucket.take(50)).toBe(false); // half a token
    expect(bucket.take(100)).toBe(true); // one token after 100 ms at 10 TPS
    expect(Array.from({ length: 20 }, () => bucket.take(60_000)).filter(Boolean)).toHaveLength(10); // capped
  });

  it('admits one second of an operation quota per region, then answers HTTP 400 ThrottlingException as AWS does', async () => {
    // Given a thing, and ListThingPrincipals at its documented 10 TPS
    await createThing(twoRegions(moto.endpoint).primary, 'dev-1');
    const quota = IOT_API_QUOTAS_TPS.ListThingPrincipals;
    expect(proxy.quota('ListThingPrincipals')).toBe(quota);
    clock += 10_000;
    const east = client('us-east-1');

    // When the burst is spent in one instant
    for (let i = 0; i < quota; i++) await east.send(new ListThingPrincipalsCommand({ thingName: 'dev-1' }));
    const error = await east.send(new ListThingPrincipalsCommand({ thingName: 'dev-1' })).catch((e: unknown) => e);

    // Then the next call is throttled the way AWS throttles, and the SDK sees a throttling error
    expect(error).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    expect(proxy.stats.get('us-east-1:ListThingPrincipals')).toEqual({ admitted: quota, throttled: 1 });
    // ...while another operation, another region and the data plane operations have their own buckets
    await east.send(new DescribeThingCommand({ thingName: 'dev-1' }));
    await client('us-west-2').send(new ListThingPrincipalsCommand({ thingName: 'dev-1' })).catch((e: Error) => {
      expect(e.name).toBe('ResourceNotFoundException'); // reached moto: no dev-1 in us-west-2
    });
    const data = new IoTDataPlaneClient({ region: 'us-east-1', endpoint: proxy.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 1 });
    await expect(data.send(new GetThingShadowCommand({ thingName: 'dev-1' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });

    // When 100 ms pass (one token at 10 TPS), Then exactly one more call is admitted
    clock += 100;
    await east.send(new ListThingPrincipalsCommand({ thingName: 'dev-1' }));
    await expect(east.send(new ListThingPrincipalsCommand({ thingName: 'dev-1' }))).rejects.toMatchObject({ name: 'ThrottlingException' });
  });

  it('throttles the shadow data plane with HTTP 429, as its API reference documents', async () => {
    // Given GetThingShadow's bucket spent in one instant (the call above took one token at most)
    clock += 10_000;
    const data = new IoTDataPlaneClient({ region: 'us-east-1', endpoint: proxy.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 1 });
    for (let i = 0; i < proxy.quota('GetThingShadow'); i++) {
      await expect(data.send(new GetThingShadowCommand({ thingName: 'dev-1' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    }
    // When one more call comes, Then it is throttled with the data plane's status
    const error = await data.send(new GetThingShadowCommand({ thingName: 'dev-1' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });
  });

  it('lets the SDK retry strategy ride out throttling (ListThings, 10 TPS, real clock)', async () => {
    // Given a proxy on the real clock and 25 calls at once, well over one second of quota
    const real = await startQuotaProxy({ upstream: moto.endpoint });
    try {
      const sdk = new IoTClient({ region: 'us-east-1', endpoint: real.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 10, retryMode: 'adaptive' });
      // When
      const results = await Promise.allSettled(Array.from({ length: 25 }, () => sdk.send(new ListThingsCommand({}))));
      // Then some were throttled on the way, and every call succeeded in the end
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(real.stats.get('us-east-1:ListThings')?.throttled).toBeGreaterThan(0);
      expect(real.stats.get('us-east-1:ListThings')?.admitted).toBe(25);
    } finally {
      await real.stop();
    }
  });

  it.each(['100', '0'])(
    '`iot-dr copy --rate-limit %s` through the proxy (documented quotas) copies a fleet with 0 failures, and verify matches',
    async (rateLimit) => {
      // Given a fleet in the primary, and an empty secondary, behind a proxy on the real clock
      useFakeCredentials();
      await moto.reset();
      await seedFleet(sides(moto.endpoint).primary, 6);
      const real = await startQuotaProxy({ upstream: moto.endpoint });
      const scratch = scratchDir();
      try {
        const common = ['--endpoint', real.endpoint, '--rate-limit', rateLimit];
        // When copying (the client limit paces at 100 %; at 0 only the SDK's adaptive retries do)
        const copy = await cli(['copy', ...common, '--concurrency', '16', '--json', '--checkpoint', join(scratch.dir, 'cp.json')], {
          cwd: scratch.dir,
        });
        // Then nothing failed, the summary names the binding quota, and both regions match
        const summary = parseJson<CopySummary>(copy.stdout);
        expect(summary.failures).toEqual([]);
        expect(copy.code).toBe(0);
        expect(summary.thingsCopied).toBe(7);
        expect(summary.quotaCeiling).toMatchObject({ tps: expect.any(Number), operation: expect.any(String) });
        const verify = await cli(['verify', ...common, '--json'], { cwd: scratch.dir });
        expect(verify.code).toBe(0);
      } finally {
        scratch.cleanup();
        await real.stop();
      }
    },
    120_000,
  );
});
