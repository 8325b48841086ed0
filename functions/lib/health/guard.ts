/**
 * The health check's guard: a shared secret in the query string (what a Route 53 health check can
 * send), compared in constant time, loaded once per cold start from SSM Parameter Store.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';

/** The query-string parameter that carries the secret. */
export const SECRET_QUERY_PARAMETER = 'key';

/** The secret could not be read; the function cannot tell callers apart. */
export class SecretUnavailableError extends Error {
  constructor(parameterName: string, options?: { cause?: unknown }) {
    super(`health-check secret ${parameterName} could not be read from SSM Parameter Store`, options);
    this.name = 'SecretUnavailableError';
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

/** A loader of the secret. */
export type SecretLoader = () => Promise<string>;

/** The secret as the function holds it: read once, re-read only when a caller may have rotated it. */
export interface CachedSecret {
  /** The cached secret (loaded on first use). */
  get(): Promise<string>;
  /**
   * Re-reads the secret when the cached copy is older than the refresh interval, and returns the
   * new value; otherwise returns undefined without any call. Used only after a mismatch, so that
   * a rotated secret (new value in SSM and in the Route 53 check) is not rejected by warm
   * containers until they happen to be recycled, which would fail the region over for nothing.
   */
  refresh(): Promise<string | undefined>;
}

export interface CachedSecretOptions {
  /** Minimum age of the cached copy before a mismatch may re-read it. @default 60000 */
  readonly minRefreshIntervalMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Memoizes a loader for the life of the container (one SSM call per cold start, plus at most one
 * per refresh interval after mismatches). A failed load is forgotten, so the next invocation tries
 * again instead of failing for the container's lifetime.
 */
export function cachedSecret(load: SecretLoader, options: CachedSecretOptions = {}): CachedSecret {
  const minRefreshIntervalMs = options.minRefreshIntervalMs ?? 60000;
  const now = options.now ?? Date.now;
  let pending: Promise<string> | undefined;
  let loadedAt: number | undefined;
  const start = (): Promise<string> => {
    const attempt = load().then(
      (value) => {
        loadedAt = now();
        return value;
      },
      (err: unknown) => {
        if (pending === attempt) pending = undefined;
        throw err;
      },
    );
    pending = attempt;
    return attempt;
  };
  return {
    get: () => pending ?? start(),
    refresh: async () => {
      if (!pending || loadedAt === undefined || now() - loadedAt < minRefreshIntervalMs) return undefined;
      return start();
    },
  };
}

/** Reads a SecureString parameter, decrypted. */
export function ssmSecretLoader(ssm: SSMClient, parameterName: string): SecretLoader {
  return async () => {
    try {
      const out = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
      const value = out.Parameter?.Value;
      if (!value) throw new Error('the parameter has no value');
      return value;
    } catch (err) {
      throw new SecretUnavailableError(parameterName, { cause: err });
    }
  };
}
