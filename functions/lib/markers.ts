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

/**
 * Registry changes other than deletes: CREATED and UPDATED events of things, thing groups and thing
 * types (deprecation included) carry `changedKey` (`thing/<name>`, `thingGroup/<name>`,
 * `thingType/<name>`, written by the capture SQL); the sparse index `changes` finds them by it and
 * by time (`timestamp`, epoch milliseconds). A delete applied to a target that changed the resource
 * later loses (docs/replication.md, "Conflict rule").
 */
export const CHANGED_KEY_ATTRIBUTE = 'changedKey';
export const CHANGES_INDEX = 'changes';

/**
 * Removal tombstones inside shadow documents: shadow updates whose accepted state holds a `null`
 * carry `removedKey` (`shadow/<thing>/<shadowName>`, written by the capture SQL); the sparse index
 * `removals` finds them by it and by time (`timestamp`, epoch seconds), with their `state`.
 */
export const REMOVED_KEY_ATTRIBUTE = 'removedKey';
export const REMOVALS_INDEX = 'removals';

/** The item attribute every index above sorts by: the event's own `timestamp`. */
export const EVENT_TIME_ATTRIBUTE = 'timestamp';
