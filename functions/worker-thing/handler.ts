// Worker Lambda for THING_EVENT and THING_TYPE_ASSOCIATION_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start.
 */
export const handler = workerHandler('iot-dr-worker-thing', ['THING_EVENT', 'THING_TYPE_ASSOCIATION_EVENT']);
