// The client-side rate limiter: quotas, share, overrides, spacing of real calls.
import { allowedTps, DEFAULT_QUOTA_TPS, IOT_API_QUOTAS_TPS, quotaCeiling, RateLimiter } from '../../cli/rate-limits';

describe('RateLimiter', () => {
  it('allows a share of the documented quota, the assumed default for unknown operations, and raised quotas', () => {
    expect(IOT_API_QUOTAS_TPS.DescribeThing).toBe(350);
    expect(allowedTps('DescribeThing', 80)).toBe(280);
    expect(allowedTps('ListThingPrincipals', 80)).toBe(8);
    expect(allowedTps('RegisterCertificateWithoutCA', 80)).toBe(Math.floor(DEFAULT_QUOTA_TPS * 0.8));
    expect(allowedTps('ListThingPrincipals', 80, { ListThingPrincipals: 50 })).toBe(40);
    expect(allowedTps('CreateThingType', 1)).toBe(1); // never 0
  });

  it('spaces the calls of one operation and counts them; another operation is not held back', async () => {
    const limiter = new RateLimiter(100, { Slow: 10, Fast: 1000 });
    const started = Date.now();
    const slow = Promise.all(
      Array.from({ length: 5 }, () => limiter.schedule('r:Slow', 'Slow', async () => Date.now())),
    );
    const fast = await limiter.schedule('r:Fast', 'Fast', async () => Date.now());
    const times = await slow;
    expect(fast - started).toBeLessThan(90);
    expect(times[4] - times[0]).toBeGreaterThanOrEqual(380); // 4 gaps of 100 ms (10 TPS)
    expect(limiter.calls.get('Slow')).toBe(5);
    await limiter.stop();
  });

  it('does not limit at 0 %', async () => {
    const limiter = new RateLimiter(0);
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, () => limiter.schedule('r:ListThings', 'ListThings', async () => undefined)),
    );
    expect(Date.now() - started).toBeLessThan(200);
    expect(limiter.calls.get('ListThings')).toBe(20);
  });
});

describe('quotaCeiling', () => {
  it('finds the (region, operation) whose calls need the longest at the allowed TPS, and the things/s it allows', () => {
    // Given 100 things: 100 ListThingPrincipals (10 TPS) and 200 DescribeThing (350 TPS) in one region
    const calls = { 'us-east-1:ListThingPrincipals': 100, 'us-east-1:DescribeThing': 200, 'us-west-2:CreateThing': 100 };
    // Then ListThingPrincipals binds: 1 call per thing at 8 TPS (80 %) = 8 things/s
    expect(quotaCeiling(calls, 100, 80)).toEqual({
      thingsPerSecond: 8,
      region: 'us-east-1',
      operation: 'ListThingPrincipals',
      callsPerThing: 1,
      tps: 8,
    });
    // At 0 % (no client limit) the whole quota; a raised quota moves the bound elsewhere
    expect(quotaCeiling(calls, 100, 0)?.thingsPerSecond).toBe(10);
    expect(quotaCeiling(calls, 100, 100, { ListThingPrincipals: 1000 })?.operation).toBe('CreateThing');
    expect(quotaCeiling({}, 100, 80)).toBeUndefined();
  });
});
