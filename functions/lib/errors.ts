/**
 * The project's error hierarchy. Lambda reports `error.name` as the Step Functions error name, so
 * the names are part of the workflow contract: the ASL retries `PrincipalPendingError` on a steady
 * interval covering the principal grace, `RetryableError` with capped exponential backoff, and
 * catches everything else into the failure table.
 */
import { PRINCIPAL_PENDING_ERROR } from './principal-grace';

/** Context attached to an error: the resource and event it concerns. */
export interface ErrorContext {
  readonly eventId?: string;
  readonly thingName?: string;
  readonly resource?: string;
  readonly [key: string]: unknown;
}

/** Base of every iot-dr error. */
export class IotDrError extends Error {
  public readonly context: ErrorContext;

  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, { cause: options.cause });
    this.name = 'IotDrError';
    this.context = options.context ?? {};
  }
}

/**
 * A transient failure worth retrying later: throttling, 5xx, timeouts, or a state that is still
 * converging in the primary (a certificate not attached yet, a thing type deprecated less than
 * five minutes ago). Retries are bounded by the caller (the workflow's retry cap).
 */
export class RetryableError extends IotDrError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

/**
 * A thing created in complete mode is still without any principal in the primary, and its event is
 * younger than the principal grace: its certificate is usually attached moments or minutes later,
 * and AWS IoT emits no registry event for AttachThingPrincipal, so the only way to see it is to
 * read the thing again. A `RetryableError` (code catching that still works) with its own name, so
 * the workflow can retry it on a steady interval long enough to cover the grace, apart from the
 * short exponential backoff of the other transient errors.
 */
export class PrincipalPendingError extends RetryableError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options);
    this.name = PRINCIPAL_PENDING_ERROR;
  }
}

/** A malformed or unknown event: permanent, retrying cannot help. Names the field and the rule. */
export class InvalidEventError extends IotDrError {
  public readonly field: string;

  constructor(field: string, rule: string, options: { cause?: unknown; context?: ErrorContext; received?: unknown } = {}) {
    const received = options.received === undefined ? '' : ` (received ${JSON.stringify(options.received)?.slice(0, 200)})`;
    super(`invalid event: "${field}" ${rule}${received}`, options);
    this.name = 'InvalidEventError';
    this.field = field;
  }
}

/** A permanent failure of an AWS call (validation, access denied, conflict that retrying cannot fix). */
export class ReplicationError extends IotDrError {
  constructor(message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options);
    this.name = 'ReplicationError';
  }
}

/** Configuration missing or wrong at start (environment variables): fails loudly at module load. */
export class ConfigurationError extends IotDrError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'ConfigurationError';
  }
}

/** Reads a required environment variable or throws a `ConfigurationError` naming it. */
export function requiredEnv(name: string, allowed?: readonly string[]): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is required`);
  }
  if (allowed && !allowed.includes(value)) {
    throw new ConfigurationError(`environment variable ${name} must be one of ${allowed.join(', ')} (got "${value}")`);
  }
  return value;
}

/**
 * Reads an optional environment variable holding a whole number from `min` to `max`; `fallback`
 * when it is absent or empty. Anything else throws a `ConfigurationError` naming the variable and
 * the rule.
 */
export function integerEnv(name: string, rule: { min: number; max: number; fallback: number }): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return rule.fallback;
  const value = Number(raw.trim());
  if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
    throw new ConfigurationError(`environment variable ${name} must be a whole number from ${rule.min} to ${rule.max} (got "${raw}")`);
  }
  return value;
}
