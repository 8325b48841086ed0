import { InvalidEventError } from '../errors';
import type { Outcome, ReplicationContext } from './context';
import { parseEvent, subjectOf, type EventType, type ReplicationEvent } from './events';
import { syncShadow } from './shadow';
import { syncThing } from './thing';
import { syncThingGroup, syncThingGroupMembership } from './thing-group';
import { syncThingType } from './thing-type';

/** The events of some types. */
type EventOf<T extends EventType> = Extract<ReplicationEvent, { readonly type: T }>;

/** Applies one validated event; `applyWith` wraps it with the per-event logger. */
type Dispatch<E extends ReplicationEvent> = (ctx: ReplicationContext, event: E) => Promise<Outcome[]>;

/**
 * Validates and applies one captured event (the unmarshalled table item) to the target region:
 * `applyEvent` for every event type, or one worker family's applier (`applyThingEvent`, ...).
 */
export type EventApplier = (ctx: ReplicationContext, raw: unknown, eventId?: string) => Promise<Outcome[]>;

// Event types per worker family: the same partition as stacks/workflow-definition.ts
// (WORKER_FOR_EVENT_TYPE), which routes each type to its worker.
export const THING_FAMILY_EVENT_TYPES = ['THING_EVENT', 'THING_TYPE_ASSOCIATION_EVENT'] as const;
export const THING_TYPE_FAMILY_EVENT_TYPES = ['THING_TYPE_EVENT'] as const;
export const THING_GROUP_FAMILY_EVENT_TYPES = ['THING_GROUP_EVENT', 'THING_GROUP_MEMBERSHIP_EVENT', 'THING_GROUP_HIERARCHY_EVENT'] as const;
export const SHADOW_FAMILY_EVENT_TYPES = ['SHADOW_EVENT'] as const;

type ThingFamilyEvent = EventOf<(typeof THING_FAMILY_EVENT_TYPES)[number]>;
type ThingTypeFamilyEvent = EventOf<(typeof THING_TYPE_FAMILY_EVENT_TYPES)[number]>;
type ThingGroupFamilyEvent = EventOf<(typeof THING_GROUP_FAMILY_EVENT_TYPES)[number]>;
type ShadowFamilyEvent = EventOf<(typeof SHADOW_FAMILY_EVENT_TYPES)[number]>;

// One dispatch per family, each importing only its family's operations: a worker that imports
// its family's applier gets a bundle without the other families' code (esbuild tree shaking).
async function dispatchThing(ctx: ReplicationContext, event: ThingFamilyEvent): Promise<Outcome[]> {
  switch (event.type) {
    case 'THING_EVENT':
      // Every operation converges to the origin's current state: a DELETED event for a thing
      // that exists again in the origin re-creates it, a late CREATED after a delete deletes
      // (policy merge: only a DELETED event deletes; see ReplicationContext.originDeleted).
      // Only CREATED waits for a first certificate (see SyncThingOptions.eventTimestampMs): a
      // thing without certificates by design then costs one bounded retry series, not one per update.
      return syncThing(ctx, event.thingName, { eventTimestampMs: event.operation === 'CREATED' ? event.timestamp : undefined, eventTimeMs: event.timestamp });
    case 'THING_TYPE_ASSOCIATION_EVENT':
      return syncThing(ctx, event.thingName, { registryOnly: true });
  }
}

async function dispatchThingType(ctx: ReplicationContext, event: ThingTypeFamilyEvent): Promise<Outcome[]> {
  return syncThingType(ctx, event.thingTypeName, { eventTimeMs: event.timestamp });
}

async function dispatchThingGroup(ctx: ReplicationContext, event: ThingGroupFamilyEvent): Promise<Outcome[]> {
  switch (event.type) {
    case 'THING_GROUP_EVENT':
      return syncThingGroup(ctx, event.thingGroupName, { eventTimeMs: event.timestamp });
    case 'THING_GROUP_MEMBERSHIP_EVENT':
      // ADDED counts as a change of the thing (changedKey thing/<name>): see the conflict rule.
      return syncThingGroupMembership(ctx, event.groupName, event.thingName, { eventTimeMs: event.operation === 'ADDED' ? event.timestamp : undefined });
    case 'THING_GROUP_HIERARCHY_EVENT':
      return [...(await syncThingGroup(ctx, event.parentGroupName)), ...(await syncThingGroup(ctx, event.childGroupName))];
  }
}

async function dispatchShadow(ctx: ReplicationContext, event: ShadowFamilyEvent): Promise<Outcome[]> {
  return [
    await syncShadow(ctx, event.thingName, event.shadowName, {
      eventVersion: event.operation === 'update' ? event.version : undefined,
      event: { operation: event.operation, timestamp: event.timestamp, state: event.state },
    }),
  ];
}

async function dispatchAll(ctx: ReplicationContext, event: ReplicationEvent): Promise<Outcome[]> {
  switch (event.type) {
    case 'THING_EVENT':
    case 'THING_TYPE_ASSOCIATION_EVENT':
      return dispatchThing(ctx, event);
    case 'THING_TYPE_EVENT':
      return dispatchThingType(ctx, event);
    case 'THING_GROUP_EVENT':
    case 'THING_GROUP_MEMBERSHIP_EVENT':
    case 'THING_GROUP_HIERARCHY_EVENT':
      return dispatchThingGroup(ctx, event);
    case 'SHADOW_EVENT':
      return dispatchShadow(ctx, event);
  }
}

/** Runs `dispatch` with a per-event child logger, logging the outcomes or the error. */
async function applyWith<E extends ReplicationEvent>(ctx: ReplicationContext, event: E, eventId: string | undefined, dispatch: Dispatch<E>): Promise<Outcome[]> {
  const subject = subjectOf(event);
  const logger = ctx.logger.createChild();
  logger.appendPersistentKeys({ eventId: eventId ?? null, eventType: event.type, operation: event.operation, thingName: subject.thingName ?? null, resource: subject.resource });
  // Policy merge: only a DELETED registry event lets the origin's absence delete the target's copy.
  const scoped: ReplicationContext = { ...ctx, logger, eventId, originDeleted: ctx.originDeleted === true || event.operation === 'DELETED' };
  const started = Date.now();
  try {
    const outcomes = await dispatch(scoped, event);
    logger.info('event applied', { outcomes, durationMs: Date.now() - started });
    return outcomes;
  } catch (error) {
    logger.warn('event not applied', { error: error as Error, durationMs: Date.now() - started });
    throw error;
  }
}

/**
 * Validates `raw` (`InvalidEventError`), requires its type to be one of `types` (else
 * `InvalidEventError` on `event.eventType`), then applies it.
 */
async function applyFamily<T extends EventType>(
  ctx: ReplicationContext,
  raw: unknown,
  eventId: string | undefined,
  types: readonly T[],
  dispatch: Dispatch<EventOf<T>>,
): Promise<Outcome[]> {
  const event = parseEvent(raw);
  if (!(types as readonly EventType[]).includes(event.type)) {
    throw new InvalidEventError('event.eventType', `must be one of ${types.join(', ')} for this applier`, { received: event.type, context: { eventId } });
  }
  return applyWith(ctx, event as EventOf<T>, eventId, dispatch);
}

/**
 * Applies one captured registry or shadow event (the unmarshalled table item) to the target region.
 * Validates it first (`InvalidEventError`), then converges the resource it names to the
 * origin's current state (under the context's conflict policy), so duplicates and reordering
 * leave the same end state. Brings every
 * family's operations (and so every AWS call) with it: reconciliation and the CLI use it; each
 * worker uses its family's applier below.
 */
export async function applyEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  return applyWith(ctx, parseEvent(raw), eventId, dispatchAll);
}

/**
 * `applyEvent` for THING_EVENT and THING_TYPE_ASSOCIATION_EVENT only (worker-thing): the thing
 * operations, with what they reach (a missing thing type is created, a deleted thing's shadows
 * deleted, certificates and policies in complete mode). Other types: `InvalidEventError`.
 */
export function applyThingEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  return applyFamily(ctx, raw, eventId, THING_FAMILY_EVENT_TYPES, dispatchThing);
}

/** `applyEvent` for THING_TYPE_EVENT only (worker-thing-type). Other types: `InvalidEventError`. */
export function applyThingTypeEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  return applyFamily(ctx, raw, eventId, THING_TYPE_FAMILY_EVENT_TYPES, dispatchThingType);
}

/**
 * `applyEvent` for THING_GROUP_EVENT, THING_GROUP_MEMBERSHIP_EVENT and THING_GROUP_HIERARCHY_EVENT
 * only (worker-thing-group). Other types: `InvalidEventError`.
 */
export function applyThingGroupEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  return applyFamily(ctx, raw, eventId, THING_GROUP_FAMILY_EVENT_TYPES, dispatchThingGroup);
}

/** `applyEvent` for SHADOW_EVENT only (worker-shadow). Other types: `InvalidEventError`. */
export function applyShadowEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  return applyFamily(ctx, raw, eventId, SHADOW_FAMILY_EVENT_TYPES, dispatchShadow);
}
