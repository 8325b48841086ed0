// Worker Lambda for THING_GROUP_EVENT, THING_GROUP_MEMBERSHIP_EVENT and THING_GROUP_HIERARCHY_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { applyThingGroupEvent, THING_GROUP_FAMILY_EVENT_TYPES, workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start. `applyThingGroupEvent` (not the all-families `applyEvent`) keeps the other families'
 * code and AWS calls out of this bundle.
 */
export const handler = workerHandler('iot-dr-worker-thing-group', THING_GROUP_FAMILY_EVENT_TYPES, applyThingGroupEvent);
