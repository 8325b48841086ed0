/**
 * Markers of the replicator's own writes. No imports: Lambda bundles and stack code (the capture
 * rules' SQL) both use them.
 */

/**
 * Prefix of the clientToken (`iot-dr:<eventId>`) on every shadow update the replicator writes.
 * The shadow service echoes it in the `update/accepted` document, and the capture rules drop
 * such updates, so a change applied in one region is never captured there again (no echo).
 */
export const REPLICATOR_CLIENT_TOKEN_PREFIX = 'iot-dr:';
