// Worker Lambda for THING_GROUP_EVENT, THING_GROUP_MEMBERSHIP_EVENT and THING_GROUP_HIERARCHY_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { workerHandler } from '../lib/replication';

/**
 * Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. The environment is read
 * here, at cold start.
 */
export const handler = workerHandler('iot-dr-worker-thing-group', ['THING_GROUP_EVENT', 'THING_GROUP_MEMBERSHIP_EVENT', 'THING_GROUP_HIERARCHY_EVENT']);
