// Worker Lambda for THING_EVENT and THING_TYPE_ASSOCIATION_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { applyThingEvent, THING_FAMILY_EVENT_TYPES, workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start. `applyThingEvent` (not the all-families `applyEvent`) keeps the other families'
 * code and AWS calls out of this bundle.
 */
export const handler = workerHandler('iot-dr-worker-thing', THING_FAMILY_EVENT_TYPES, applyThingEvent);
