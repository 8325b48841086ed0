/** Limits shared by the stream trigger and the workflow definition (no imports: both bundle it). */

/**
 * Events per batch execution (EXPRESS), and the batch workflow's Map concurrency: every event of
 * an execution runs at once, so the execution's worst case is one event's. The trigger splits
 * larger batches.
 */
export const MAX_EVENTS_PER_BATCH_EXECUTION = 40;

/** Step Functions' limit on an execution's input (UTF-8 bytes). */
export const MAX_EXECUTION_INPUT_BYTES = 256 * 1024;
