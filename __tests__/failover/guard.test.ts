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

    const values = await Promise.all([secret(), secret(), secret()]);
    await secret();

    expect(values).toEqual(['s', 's', 's']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('forgets a failed load so that the next invocation tries again', async () => {
    const load = jest.fn().mockRejectedValueOnce(new Error('throttled')).mockResolvedValue('s');
    const secret = cachedSecret(load);

    await expect(secret()).rejects.toThrow('throttled');
    await expect(secret()).resolves.toBe('s');
    expect(load).toHaveBeenCalledTimes(2);
  });
});
