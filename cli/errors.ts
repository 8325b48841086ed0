/**
 * How the CLI sorts failures, each with its own exit code (documented in docs/fleet-tools.md):
 * 0 success; 1 internal error (a bug); 2 usage (bad argument or configuration);
 * 3 external (AWS or the emulator failed or refused); 4 differences found / some items failed;
 * 130 interrupted (the checkpoint was saved).
 */
export const EXIT = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  EXTERNAL: 3,
  DIFFERENCES: 4,
  INTERRUPTED: 130,
} as const;

/** A bad argument, option or configuration: the message names it and the rule. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** AWS (or the emulator, or a child process) failed: not the user's input and not our bug. */
export class ExternalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ExternalError';
  }
}

/** SDK errors come from a service when they carry `$metadata` or a fault classification. */
export function isAwsError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { $metadata?: unknown; $fault?: unknown; code?: string; name?: string };
  if (e.$metadata !== undefined || e.$fault !== undefined) return true;
  // Network-level failures before any response (endpoint unreachable, DNS, TLS).
  return [
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'ETIMEDOUT',
    'EAI_AGAIN',
    'CredentialsProviderError',
    'TimeoutError',
  ].includes(e.code ?? e.name ?? '');
}
