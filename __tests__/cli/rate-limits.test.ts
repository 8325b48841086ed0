// The client-side rate limiter: quotas, share, overrides, spacing of real calls.
import { allowedTps, DEFAULT_QUOTA_TPS, IOT_API_QUOTAS_TPS, RateLimiter } from '../../cli/rate-limits';

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
