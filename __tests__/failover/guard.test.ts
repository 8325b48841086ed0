import {
  type SecretSnapshot,
  SecretUnavailableError,
  secretGuard,
  secretMatches,
} from '../../functions/lib/health/guard';

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

/** A loader stub: answers from a queue of outcomes, counts calls, honours the abort signal. */
function loader() {
  const outcomes: Array<SecretSnapshot | Error | 'hang'> = [];
  const calls: number[] = [];
  const load = (signal: AbortSignal) => {
    calls.push(calls.length + 1);
    const next = outcomes.length > 1 ? outcomes.shift() : outcomes[0];
    if (next === 'hang') {
      return new Promise<SecretSnapshot>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    }
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next as SecretSnapshot);
  };
  return { load, outcomes, calls };
}

const v = (value: string, version: number, writtenAt = 0) => ({ value, version, writtenAt });

describe('Guard: secretGuard', () => {
  it('reads once per container and judges later keys from memory, concurrent first calls sharing one read', async () => {
    const l = loader();
    l.outcomes.push({ current: v('s', 1) });
    const guard = secretGuard(l.load);

    const verdicts = await Promise.all([guard.check('s', 500), guard.check('s', 500), guard.check('s', 500)]);

    expect(verdicts).toEqual(['allowed', 'allowed', 'allowed']);
    expect(l.calls).toHaveLength(1);
  });

  it('throws SecretUnavailableError on a cold start whose read fails, and reads again on the next call', async () => {
    const l = loader();
    l.outcomes.push(new Error('throttled'), { current: v('s', 1) });
    const guard = secretGuard(l.load);

    await expect(guard.check('s', 500)).rejects.toBeInstanceOf(SecretUnavailableError);
    await expect(guard.check('s', 500)).resolves.toBe('allowed');
    expect(l.calls).toHaveLength(2);
  });

  it('answers within the budget when SSM never answers (cold start): unavailable, not a hang', async () => {
    // Given an SSM that accepts the call and never answers
    const l = loader();
    l.outcomes.push('hang');
    const guard = secretGuard(l.load);

    // When a cold start asks with a 50 ms budget, Then it gives up (the verdict, not the time, is asserted)
    await expect(guard.check('s', 50)).rejects.toBeInstanceOf(SecretUnavailableError);
  });

  it('threat: SSM failing after the secret was cached + a wrong key -> the correct key still gets "allowed"', async () => {
    // Given a warm container that cached the secret, and SSM failing from now on
    let clock = 0;
    const l = loader();
    l.outcomes.push({ current: v('good', 1) }, new Error('SSM unavailable'));
    const guard = secretGuard(l.load, { now: () => clock, minRefreshIntervalMs: 5000 });
    await expect(guard.check('good', 500)).resolves.toBe('allowed');

    // When a wrong key triggers a re-read that fails
    clock = 10_000;
    await expect(guard.check('wrong', 500)).resolves.toBe('denied');
    expect(l.calls).toHaveLength(2);

    // Then the correct key is still allowed, from the kept value, with no further read
    await expect(guard.check('good', 500)).resolves.toBe('allowed');
    expect(l.calls).toHaveLength(2);
  });

  it('threat: SSM hanging during a re-read -> a wrong key is denied within its budget, the correct key never waits', async () => {
    let clock = 0;
    const l = loader();
    l.outcomes.push({ current: v('good', 1) }, 'hang');
    const guard = secretGuard(l.load, { now: () => clock });
    await guard.check('good', 500);

    clock = 10_000;
    const wrong = guard.check('wrong', 50);
    // While the re-read hangs, a correct key is judged from memory at once
    await expect(guard.check('good', 50)).resolves.toBe('allowed');
    await expect(wrong).resolves.toBe('denied');
  });

  it('rate-limits re-reads globally: a flood of wrong keys reads SSM at most once per interval', async () => {
    let clock = 0;
    const l = loader();
    l.outcomes.push({ current: v('good', 1) });
    const guard = secretGuard(l.load, { now: () => clock, minRefreshIntervalMs: 5000 });
    await guard.check('good', 500);

    clock = 5000;
    await Promise.all(Array.from({ length: 20 }, (_, i) => guard.check(`wrong-${i}`, 500)));
    clock = 9999;
    for (let i = 0; i < 20; i++) await guard.check(`wrong-again-${i}`, 500);
    expect(l.calls).toHaveLength(2);

    clock = 10_000;
    await guard.check('wrong-later', 500);
    expect(l.calls).toHaveLength(3);
  });

  it('threat: rotation -> the new key is accepted at once, the old one only during the overlap window', async () => {
    // Given a container that read version 1 long ago (the cold-start read counts for nothing special)
    let clock = 1_000_000;
    const l = loader();
    l.outcomes.push({ current: v('old', 1, 0) });
    const guard = secretGuard(l.load, { now: () => clock, minRefreshIntervalMs: 5000, overlapMs: 3_600_000 });
    await expect(guard.check('old', 500)).resolves.toBe('allowed');

    // When terraform apply writes version 2 at t=2,000,000 and Route 53 starts sending it
    clock = 2_000_000;
    l.outcomes.splice(0, l.outcomes.length, { current: v('new', 2, 2_000_000), previous: v('old', 1, 0) });

    // Then the new key is accepted on its first request, and checkers still sending the old key pass
    await expect(guard.check('new', 500)).resolves.toBe('allowed');
    await expect(guard.check('old', 500)).resolves.toBe('allowed');
    clock = 2_000_000 + 3_599_999;
    await expect(guard.check('old', 500)).resolves.toBe('allowed');

    // And after the overlap window the old key is refused
    clock = 2_000_000 + 3_600_000;
    await expect(guard.check('old', 500)).resolves.toBe('denied');
    await expect(guard.check('new', 500)).resolves.toBe('allowed');
  });

  it('never goes back to an older version when a slow read finishes after a newer one', async () => {
    let clock = 0;
    const l = loader();
    l.outcomes.push({ current: v('two', 2) }, { current: v('one', 1) });
    const guard = secretGuard(l.load, { now: () => clock, minRefreshIntervalMs: 0 });
    await guard.check('two', 500);
    clock = 1;
    await guard.check('x', 500);
    await expect(guard.check('two', 500)).resolves.toBe('allowed');
  });
});
