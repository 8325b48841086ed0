// The client-side rate limiter: quotas, share, overrides, spacing of real calls.
import { allowedTps, burstOf, DEFAULT_QUOTA_TPS, IOT_API_QUOTAS_TPS, quotaCeiling, RateLimiter, TokenBucket } from '../../cli/rate-limits';

describe('RateLimiter', () => {
  it('allows a share of the documented quota, the assumed default for unknown operations, and raised quotas', () => {
    expect(IOT_API_QUOTAS_TPS.DescribeThing).toBe(350);
    expect(allowedTps('DescribeThing', 80)).toBe(280);
    expect(allowedTps('ListThingPrincipals', 80)).toBe(8);
    expect(allowedTps('RegisterCertificateWithoutCA', 80)).toBe(Math.floor(DEFAULT_QUOTA_TPS * 0.8));
    expect(allowedTps('ListThingPrincipals', 80, { ListThingPrincipals: 50 })).toBe(40);
    expect(allowedTps('CreateThingType', 1)).toBe(1); // never 0
  });

  it('paces the calls of one operation (a burst of half a second, then its TPS) and counts them; another operation is not held back', async () => {
    const limiter = new RateLimiter(100, { Slow: 10, Fast: 1000 });
    const started = Date.now();
    const slow = Promise.all(
      Array.from({ length: 10 }, () => limiter.schedule('r:Slow', 'Slow', async () => Date.now())),
    );
    const fast = await limiter.schedule('r:Fast', 'Fast', async () => Date.now());
    const times = await slow;
    expect(fast - started).toBeLessThan(90);
    expect(burstOf(10)).toBe(5);
    expect(times[9] - times[0]).toBeGreaterThanOrEqual(450); // 5 at once, then 5 more at 100 ms (10 TPS)
    expect(limiter.calls.get('Slow')).toBe(10);
    expect(limiter.callsByKey.get('r:Slow')).toBe(10);
    await limiter.stop();
  });

  it('token bucket: burst, continuous refill, and the wait until the next token', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(Array.from({ length: 6 }, () => bucket.take(0))).toEqual([true, true, true, true, true, false]);
    expect(bucket.msUntilToken(0)).toBe(100);
    expect(bucket.msUntilToken(40)).toBe(60);
    expect(bucket.take(100)).toBe(true);
    expect(bucket.msUntilToken(10_000)).toBe(0);
    expect(Array.from({ length: 8 }, () => bucket.take(10_000)).filter(Boolean)).toHaveLength(5); // capped at the burst
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
