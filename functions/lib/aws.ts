/**
 * AWS SDK client factory and error classification shared by the Lambdas and the CLI.
 * Every client gets the SDK's adaptive retry mode with a bounded number of attempts, a connection
 * and a request timeout that throw (so a call that never answers ends, and is retried, instead of
 * holding the caller until its own deadline), and the endpoint override used by the tests (moto)
 * or `IOT_DR_AWS_ENDPOINT`.
 */
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { ReplicationError, RetryableError, type ErrorContext } from './errors';

/** Options every client factory call accepts. */
export interface ClientOptions {
  readonly region: string;
  /** Overrides the endpoint (tests: `http://127.0.0.1:PORT`). @default env IOT_DR_AWS_ENDPOINT */
  readonly endpoint?: string;
  readonly credentials?: AwsCredentialIdentity;
  /** Total attempts per call, first one included (SDK adaptive retry). @default 4 */
  readonly maxAttempts?: number;
  /** Milliseconds one attempt may take, response included, before it fails with `TimeoutError`. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Milliseconds to open the connection (TCP + TLS) before the attempt fails. @default 3000 */
  readonly connectionTimeoutMs?: number;
}

/** Defaults of {@link ClientOptions}: every call is bounded (see {@link callBoundMs}). */
export const CLIENT_DEFAULTS = { maxAttempts: 4, requestTimeoutMs: 10_000, connectionTimeoutMs: 3_000 } as const;

/**
 * Upper bound, in milliseconds, of one SDK call made with `options`: every attempt runs into its
 * connection and request timeouts, plus the standard retry strategy's backoff between attempts
 * (full jitter on 100 ms × 2^n, capped at 20 s: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 * The adaptive mode's client-side rate limiter can add waits under sustained throttling.
 */
export function callBoundMs(
  options: Pick<ClientOptions, 'maxAttempts' | 'requestTimeoutMs' | 'connectionTimeoutMs'> = {},
): number {
  const attempts = options.maxAttempts ?? CLIENT_DEFAULTS.maxAttempts;
  const perAttempt =
    (options.connectionTimeoutMs ?? CLIENT_DEFAULTS.connectionTimeoutMs) +
    (options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs);
  let backoff = 0;
  for (let n = 0; n < attempts - 1; n++) backoff += Math.min(100 * 2 ** n, 20_000);
  return attempts * perAttempt + backoff;
}

/** SDK client configuration for `options`. */
export function clientConfig(options: ClientOptions) {
  const endpoint = options.endpoint ?? process.env.IOT_DR_AWS_ENDPOINT;
  return {
    region: options.region,
    retryMode: 'adaptive' as const,
    maxAttempts: options.maxAttempts ?? CLIENT_DEFAULTS.maxAttempts,
    // NodeHttpHandler options. In @smithy/node-http-handler 4.x `requestTimeout` alone only logs a
    // warning when exceeded; `throwOnRequestTimeout` makes it destroy the request and reject with
    // `TimeoutError` (ETIMEDOUT), which the SDK's retry strategy treats as transient.
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? CLIENT_DEFAULTS.connectionTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? CLIENT_DEFAULTS.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    ...(endpoint ? { endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

/** Error names AWS uses for transient conditions across services. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'ServiceUnavailableException',
  'ServiceUnavailable',
  'InternalFailureException',
  'InternalServerException',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** The name of an AWS SDK error (`ResourceNotFoundException`, ...), or '' for anything else. */
export function awsErrorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const e = error as SdkErrorShape;
  return e.name ?? e.code ?? '';
}

/** True for throttling, 5xx, timeouts and connection failures. */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SdkErrorShape;
  if (TRANSIENT_NAMES.has(awsErrorName(error)) || (e.code !== undefined && TRANSIENT_NAMES.has(e.code))) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

/** True when AWS says the resource does not exist. */
export function isNotFound(error: unknown): boolean {
  return awsErrorName(error) === 'ResourceNotFoundException';
}

/** True when AWS says the resource exists already. */
export function isAlreadyExists(error: unknown): boolean {
  return awsErrorName(error) === 'ResourceAlreadyExistsException';
}

/**
 * Wraps an AWS failure into the project's errors: transient ones become `RetryableError`
 * (the workflow retries them), the rest `ReplicationError` (permanent). Errors of the project
 * pass through unchanged.
 */
export function classifyAwsError(error: unknown, what: string, context: ErrorContext = {}): Error {
  if (error instanceof RetryableError || error instanceof ReplicationError) return error;
  if (error instanceof Error && error.name.endsWith('Error') && 'context' in error) return error;
  const name = awsErrorName(error) || 'Error';
  const message = error instanceof Error ? error.message : String(error);
  if (isTransient(error)) return new RetryableError(`${what}: ${name}: ${message}`, { cause: error, context });
  return new ReplicationError(`${what}: ${name}: ${message}`, { cause: error, context });
}
