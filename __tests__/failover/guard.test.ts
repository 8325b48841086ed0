import { cachedSecret, secretMatches } from '../../functions/lib/health/guard';

describe('Guard: secretMatches', () => {
  it('accepts the exact secret', () => {
    expect(secretMatches('abc123', 'abc123')).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['empty', ''],
    ['different', 'abc124'],
    ['a prefix', 'abc12'],
    ['longer', 'abc1234'],
    ['different case', 'ABC123'],
  ])('rejects a %s value', (_name, provided) => {
    expect(secretMatches(provided, 'abc123')).toBe(false);
  });

  it('rejects everything when the expected secret is empty', () => {
    expect(secretMatches('', '')).toBe(false);
  });
});

describe('Guard: cachedSecret', () => {
  it('loads once and serves every later call from memory', async () => {
    const load = jest.fn().mockResolvedValue('s');
    const secret = cachedSecret(load);

    const values = await Promise.all([secret.get(), secret.get(), secret.get()]);
    await secret.get();

    expect(values).toEqual(['s', 's', 's']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('forgets a failed load so that the next invocation tries again', async () => {
    const load = jest.fn().mockRejectedValueOnce(new Error('throttled')).mockResolvedValue('s');
    const secret = cachedSecret(load);

    await expect(secret.get()).rejects.toThrow('throttled');
    await expect(secret.get()).resolves.toBe('s');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('re-reads a rotated secret after a mismatch, at most once per refresh interval', async () => {
    // Given a secret read at t=0 and rotated afterwards
    let clock = 0;
    const load = jest.fn().mockResolvedValueOnce('old').mockResolvedValue('new');
    const secret = cachedSecret(load, { minRefreshIntervalMs: 60000, now: () => clock });
    await expect(secret.get()).resolves.toBe('old');

    // When a mismatch asks for a refresh too early, nothing is read
    clock = 59999;
    await expect(secret.refresh()).resolves.toBeUndefined();
    expect(load).toHaveBeenCalledTimes(1);

    // Then once the interval has passed, one re-read returns the new secret and is cached
    clock = 60000;
    await expect(secret.refresh()).resolves.toBe('new');
    await expect(secret.get()).resolves.toBe('new');
    await expect(secret.refresh()).resolves.toBeUndefined();
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('does not refresh before the first successful load', async () => {
    const load = jest.fn().mockResolvedValue('s');
    await expect(cachedSecret(load).refresh()).resolves.toBeUndefined();
    expect(load).not.toHaveBeenCalled();
  });
});
