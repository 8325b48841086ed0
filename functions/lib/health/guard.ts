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

/**
 * Memoizes a loader for the life of the container (one SSM call per cold start). A failed load is
 * forgotten, so the next invocation tries again instead of failing for the container's lifetime.
 */
export function cachedSecret(load: SecretLoader): SecretLoader {
  let pending: Promise<string> | undefined;
  return () => {
    pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    });
    return pending;
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
