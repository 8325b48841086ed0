// Worker Lambda for SHADOW_EVENT (classic and named shadow updates and deletes): thin wrapper over the replication library (functions/lib/replication).
import { workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start.
 */
export const handler = workerHandler('iot-dr-worker-shadow', ['SHADOW_EVENT']);
