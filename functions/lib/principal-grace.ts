/**
 * The principal grace, shared by the worker Lambdas and the workflow definition (no imports:
 * Lambda bundles and stack code both use it). In complete mode a thing found without any
 * principal while its event is younger than the grace throws `PrincipalPendingError`; the workflow
 * retries that error on a steady interval for at least the grace. Both sides get the grace from
 * `replication.principalGraceSeconds` (the stack passes it to the workers as
 * {@link PRINCIPAL_GRACE_ENV}), so the retry budget and the worker's window cannot disagree.
 */

/** Step Functions error name of a thing still waiting for its certificate (`error.name`). */
export const PRINCIPAL_PENDING_ERROR = 'PrincipalPendingError';

/** Default grace in seconds (`replication.principalGraceSeconds`' default). */
export const DEFAULT_PRINCIPAL_GRACE_SECONDS = 300;

/**
 * Longest grace in seconds: one hour, the default reconciliation period, past which waiting in
 * the workflow no longer beats the drift repair; it is also 180 retries 20 s apart, each a billed
 * Standard state transition.
 */
export const MAX_PRINCIPAL_GRACE_SECONDS = 3600;

/** Environment variable the worker Lambdas read the grace from (whole seconds). */
export const PRINCIPAL_GRACE_ENV = 'PRINCIPAL_GRACE_SECONDS';
