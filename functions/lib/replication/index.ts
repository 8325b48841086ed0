/**
 * The replication library: state-converging, idempotent operations that make the secondary
 * region match the primary's current state. Used by the worker Lambdas, the `iot-dr` CLI and the
 * reconciliation job. Design and event coverage: docs/replication.md.
 */
export {
  applyEvent,
  applyShadowEvent,
  applyThingEvent,
  applyThingGroupEvent,
  applyThingTypeEvent,
  type EventApplier,
  SHADOW_FAMILY_EVENT_TYPES,
  THING_FAMILY_EVENT_TYPES,
  THING_GROUP_FAMILY_EVENT_TYPES,
  THING_TYPE_FAMILY_EVENT_TYPES,
} from './apply';
export { absentMeansDeleted, createContext, type CreateContextOptions, type Outcome, type RegionClients, type ReplicationContext, type ReplicationMode, type ConflictPolicy } from './context';
export { syncCaCertificate } from './ca-certificates';
export { syncProvisioningTemplate } from './provisioning-templates';
export { certificateIdFromArn, certificateIdFromPem, releaseCertificate, syncCertificate } from './certificates';
export { EVENT_TYPES, nameFromArn, parseEvent, type EventType, type ReplicationEvent } from './events';
export { cleanupPolicy, rewriteRegionInArns, syncPolicy } from './policies';
export {
  deleteAllShadows,
  mergePatch,
  newestTimestamp,
  type Removal,
  removedAt,
  REPLICATOR_CLIENT_TOKEN_PREFIX,
  replicatorClientToken,
  shadowPatch,
  type ShadowEventFacts,
  syncShadow,
  type SyncShadowOptions,
} from './shadow';
export { deleteThing, syncThing, type SyncThingOptions } from './thing';
export { syncThingGroup, syncThingGroupMembership, type SyncThingGroupOptions } from './thing-group';
export { syncThingType, type SyncThingTypeOptions } from './thing-type';
export { type ChangeLog, type ShadowRemoval, tableChangeLog } from './change-log';
export { runWorker, type WorkerInput, type WorkerOutput, workerHandler } from './worker';
