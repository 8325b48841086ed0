// Worker Lambda for THING_GROUP_EVENT, THING_GROUP_MEMBERSHIP_EVENT and THING_GROUP_HIERARCHY_EVENT: thin wrapper over the replication library (functions/lib/replication).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { requiredEnv } from '../lib/errors';
import { createContext, runWorker, type ReplicationMode, type WorkerOutput } from '../lib/replication';

// Read once at cold start; a missing variable fails the init loudly instead of every event.
const ctx = createContext({
  primaryRegion: requiredEnv('PRIMARY_REGION'),
  secondaryRegion: requiredEnv('SECONDARY_REGION'),
  mode: requiredEnv('REPLICATION_MODE', ['complete', 'thing-only']) as ReplicationMode,
  logger: new Logger({ serviceName: 'iot-dr-worker-thing-group' }),
});
const metrics = new Metrics({ namespace: 'IotDr', serviceName: 'iot-dr-worker-thing-group' });

/** Step Functions task: input `{ eventId, event }`, output `{ outcomes }`. */
export const handler = (input: unknown): Promise<WorkerOutput> => runWorker(ctx, metrics, ['THING_GROUP_EVENT', 'THING_GROUP_MEMBERSHIP_EVENT', 'THING_GROUP_HIERARCHY_EVENT'], input);
