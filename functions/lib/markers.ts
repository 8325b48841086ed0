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

/**
 * The tombstones of two-way replication: delete events carry `deletedKey` (`thing/<name>`,
 * `thingGroup/<name>`, `thingType/<name>`, `shadow/<thing>/<shadowName>`, written by the capture
 * SQL), and the replication table's sparse index `deletions` finds them by it.
 */
export const DELETED_KEY_ATTRIBUTE = 'deletedKey';
export const DELETIONS_INDEX = 'deletions';
