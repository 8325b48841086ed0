// Worker Lambda for SHADOW_EVENT (classic and named shadow updates and deletes): thin wrapper over the replication library (functions/lib/replication).
import { applyShadowEvent, SHADOW_FAMILY_EVENT_TYPES, workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start. `applyShadowEvent` (not the all-families `applyEvent`) keeps the other families'
 * code and AWS calls out of this bundle.
 */
export const handler = workerHandler('iot-dr-worker-shadow', SHADOW_FAMILY_EVENT_TYPES, applyShadowEvent);
