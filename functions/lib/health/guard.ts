/**
 * The API-mode health check's guard: a shared secret in the query string (what a Route 53 health
 * check can send), compared in constant time, read from SSM Parameter Store.
 *
 * What it guarantees (docs/failover.md, "API mode: the guard"):
 * - a correct key is judged against the cached value only: no SSM call, no waiting, whatever SSM
 *   does and whatever wrong keys other callers send;
 * - a read is bounded by the caller's budget (the invocation deadline), never by SSM;
 * - a failed read never forgets a value that was read before (the last good value is kept);
 * - re-reads after a mismatch are rate-limited per container, whoever sent the wrong key, and
 *   concurrent mismatches share one read;
 * - rotation without failover: the previous parameter version is accepted for an overlap window
 *   counted from the time the current version was written.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';

/** The query-string parameter that carries the secret. */
export const SECRET_QUERY_PARAMETER = 'key';

/** The secret could not be read, and no value was ever read: the function cannot tell callers apart. */
export class SecretUnavailableError extends Error {
  constructor(parameterName: string, options?: { cause?: unknown }) {
    super(`health-check secret ${parameterName} could not be read from SSM Parameter Store`, options);
    this.name = 'SecretUnavailableError';
  }
}

/** A read took longer than its budget (it was aborted). */
export class SecretReadTimeoutError extends Error {
  constructor(budgetMs: number) {
    super(`secret read aborted after its budget of ${budgetMs} ms`);
    this.name = 'SecretReadTimeoutError';
  }
}

/**
 * True when `provided` equals `expected`. Both are hashed first so that `timingSafeEqual` always
 * compares two 32-byte digests: neither the content nor the length of the secret leaks through
 * timing.
 */
export function secretMatches(provided: string | undefined | null, expected: string): boolean {
  if (typeof provided !== 'string' || provided.length === 0 || expected.length === 0) return false;
  const a = createHash('sha256').update(provided, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** One version of the secret as SSM holds it. */
export interface SecretVersion {
  readonly value: string;
  /** SSM parameter version (1, 2, ...). */
  readonly version: number;
  /** When this version was written (epoch ms, SSM `LastModifiedDate`). */
  readonly writtenAt: number;
}

/** What one read returns: the current version and, during the overlap window, the previous one. */
export interface SecretSnapshot {
  readonly current: SecretVersion;
  readonly previous?: SecretVersion;
}

/** Reads the secret; must stop (reject) when `signal` aborts. */
export type SecretLoader = (signal: AbortSignal) => Promise<SecretSnapshot>;

/** The verdict on one presented key. */
export type GuardVerdict = 'allowed' | 'denied';

export interface SecretGuard {
  /**
   * Judges `provided` within `budgetMs`. Rejects with {@link SecretUnavailableError} only when no
   * value has ever been read (cold start with SSM unavailable); otherwise always resolves.
   */
  check(provided: string, budgetMs: number): Promise<GuardVerdict>;
}

export interface SecretGuardOptions {
  /** Minimum time between two re-reads after mismatches, per container. @default 5000 */
  readonly minRefreshIntervalMs?: number;
  /** How long after the current version was written the previous one is still accepted. @default 3600000 */
  readonly overlapMs?: number;
  /** Upper bound of one read, whatever the caller's budget. @default 1000 */
  readonly maxReadMs?: number;
  /** Clock (epoch ms), for tests. @default Date.now */
  readonly now?: () => number;
  /** Name used in errors. */
  readonly parameterName?: string;
}

/** Runs `load` for at most `budgetMs`, aborting it when the budget is spent. */
async function bounded(load: SecretLoader, budgetMs: number): Promise<SecretSnapshot> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        controller.abort(new SecretReadTimeoutError(budgetMs));
        reject(new SecretReadTimeoutError(budgetMs));
      },
      Math.max(0, budgetMs),
    );
  });
  try {
    // The race holds even if a loader ignored the signal: the caller never waits past the budget.
    const attempt = load(controller.signal);
    attempt.catch(() => undefined);
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The guard of one container: the last good snapshot, one shared read at a time, and a global
 * rate limit on re-reads.
 */
export function secretGuard(load: SecretLoader, options: SecretGuardOptions = {}): SecretGuard {
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 5000;
  const overlapMs = options.overlapMs ?? 3_600_000;
  const maxReadMs = options.maxReadMs ?? 1000;
  const now = options.now ?? (() => Date.now());
  const parameterName = options.parameterName ?? 'parameter';
  let snapshot: SecretSnapshot | undefined;
  let pending: Promise<SecretSnapshot | undefined> | undefined;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;

  const matches = (provided: string, s: SecretSnapshot): boolean => {
    // Both comparisons always run: the answer's timing does not say which version matched.
    const current = secretMatches(provided, s.current.value);
    const inOverlap = s.previous !== undefined && now() - s.current.writtenAt < overlapMs;
    const previous = s.previous ? secretMatches(provided, s.previous.value) : false;
    return current || (inOverlap && previous);
  };

  /** One read shared by every caller that needs it; a failure keeps the last good snapshot. */
  const read = (budgetMs: number): Promise<SecretSnapshot | undefined> => {
    if (!pending) {
      lastAttemptAt = now();
      pending = bounded(load, Math.min(budgetMs, maxReadMs)).then(
        (fresh) => {
          // Never go back to an older version (a slow read overtaken by a newer one).
          if (!snapshot || fresh.current.version >= snapshot.current.version) snapshot = fresh;
          return snapshot;
        },
        () => snapshot,
      );
      void pending.finally(() => {
        pending = undefined;
      });
    }
    return pending;
  };

  const waitAtMost = async <T>(work: Promise<T>, budgetMs: number, fallback: T): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<T>((resolve) => {
          timer = setTimeout(() => resolve(fallback), Math.max(0, budgetMs));
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    async check(provided, budgetMs) {
      if (!snapshot) {
        // Cold start (or every read so far failed): the only case that waits for SSM to judge.
        const loaded = await waitAtMost(read(budgetMs), budgetMs, undefined);
        if (!loaded) throw new SecretUnavailableError(parameterName);
        return matches(provided, loaded) ? 'allowed' : 'denied';
      }
      if (matches(provided, snapshot)) return 'allowed';
      // A mismatch: perhaps the secret was rotated since the last read. Re-read at most once per
      // interval per container (whoever sent the wrong key), and never lose the cached value.
      if (!pending && now() - lastAttemptAt < minRefreshIntervalMs) return 'denied';
      const fresh = await waitAtMost(read(budgetMs), budgetMs, snapshot);
      return fresh && matches(provided, fresh) ? 'allowed' : 'denied';
    },
  };
}

/**
 * Reads a SecureString parameter, decrypted: the current version and, when the current version is
 * younger than `overlapMs`, the previous version (`name:<version - 1>`).
 */
export function ssmSecretLoader(
  ssm: SSMClient,
  parameterName: string,
  options: { overlapMs?: number; now?: () => number } = {},
): SecretLoader {
  const overlapMs = options.overlapMs ?? 3_600_000;
  const now = options.now ?? (() => Date.now());
  const get = async (name: string, signal: AbortSignal): Promise<SecretVersion> => {
    const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }), { abortSignal: signal });
    const p = out.Parameter;
    if (!p?.Value || p.Version === undefined) throw new Error(`parameter ${name} has no value`);
    return { value: p.Value, version: p.Version, writtenAt: p.LastModifiedDate?.getTime() ?? 0 };
  };
  return async (signal) => {
    try {
      const current = await get(parameterName, signal);
      if (current.version <= 1 || now() - current.writtenAt >= overlapMs) return { current };
      const previous = await get(`${parameterName}:${current.version - 1}`, signal).catch(() => undefined);
      return previous ? { current, previous } : { current };
    } catch (err) {
      throw new SecretUnavailableError(parameterName, { cause: err });
    }
  };
}
