// Worker Lambda for THING_TYPE_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { applyThingTypeEvent, THING_TYPE_FAMILY_EVENT_TYPES, workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start. `applyThingTypeEvent` (not the all-families `applyEvent`) keeps the other families'
 * code and AWS calls out of this bundle.
 */
export const handler = workerHandler('iot-dr-worker-thing-type', THING_TYPE_FAMILY_EVENT_TYPES, applyThingTypeEvent);
