import type { Outcome, ReplicationContext } from './context';
import { parseEvent, subjectOf, type ReplicationEvent } from './events';
import { syncShadow } from './shadow';
import { syncThing } from './thing';
import { syncThingGroup, syncThingGroupMembership } from './thing-group';
import { syncThingType } from './thing-type';

async function dispatch(ctx: ReplicationContext, event: ReplicationEvent): Promise<Outcome[]> {
  switch (event.type) {
    case 'THING_EVENT':
      // Every operation converges to the primary's current state: a DELETED event for a thing
      // that exists again in the primary re-creates it, a late CREATED after a delete deletes.
      // Only CREATED waits for a first certificate (see SyncThingOptions.eventTimestampMs): a
      // thing without certificates by design then costs one bounded retry series, not one per update.
      return syncThing(ctx, event.thingName, { eventTimestampMs: event.operation === 'CREATED' ? event.timestamp : undefined });
    case 'THING_TYPE_ASSOCIATION_EVENT':
      return syncThing(ctx, event.thingName, { registryOnly: true });
    case 'THING_TYPE_EVENT':
      return syncThingType(ctx, event.thingTypeName);
    case 'THING_GROUP_EVENT':
      return syncThingGroup(ctx, event.thingGroupName);
    case 'THING_GROUP_MEMBERSHIP_EVENT':
      return syncThingGroupMembership(ctx, event.groupName, event.thingName);
    case 'THING_GROUP_HIERARCHY_EVENT':
      return [...(await syncThingGroup(ctx, event.parentGroupName)), ...(await syncThingGroup(ctx, event.childGroupName))];
    case 'SHADOW_EVENT':
      return [await syncShadow(ctx, event.thingName, event.shadowName, { eventVersion: event.operation === 'update' ? event.version : undefined })];
  }
}

/**
 * Applies one captured registry or shadow event (the unmarshalled table item) to the secondary.
 * Validates it first (`InvalidEventError`), then converges the resource it names to the
 * primary's current state, so duplicates and reordering leave the same end state.
 */
export async function applyEvent(ctx: ReplicationContext, raw: unknown, eventId?: string): Promise<Outcome[]> {
  const event = parseEvent(raw);
  const subject = subjectOf(event);
  const logger = ctx.logger.createChild();
  logger.appendPersistentKeys({ eventId: eventId ?? null, eventType: event.type, operation: event.operation, thingName: subject.thingName ?? null, resource: subject.resource });
  const scoped: ReplicationContext = { ...ctx, logger, eventId };
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
