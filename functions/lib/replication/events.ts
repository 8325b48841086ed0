import { InvalidEventError } from '../errors';
import { EVENT_TYPES, type EventType } from '../event-types';

export { EVENT_TYPES, type EventType };

/** A captured item, validated and reduced to what replication needs. */
export type ReplicationEvent =
  | { readonly type: 'THING_EVENT'; readonly operation: 'CREATED' | 'UPDATED' | 'DELETED'; readonly thingName: string; readonly timestamp?: number }
  | { readonly type: 'THING_TYPE_EVENT'; readonly operation: 'CREATED' | 'UPDATED' | 'DELETED'; readonly thingTypeName: string; readonly timestamp?: number }
  | { readonly type: 'THING_TYPE_ASSOCIATION_EVENT'; readonly operation: string; readonly thingName: string; readonly thingTypeName: string }
  | { readonly type: 'THING_GROUP_EVENT'; readonly operation: 'CREATED' | 'UPDATED' | 'DELETED'; readonly thingGroupName: string; readonly timestamp?: number }
  | { readonly type: 'THING_GROUP_MEMBERSHIP_EVENT'; readonly operation: 'ADDED' | 'REMOVED'; readonly groupName: string; readonly thingName: string; readonly timestamp?: number }
  | { readonly type: 'THING_GROUP_HIERARCHY_EVENT'; readonly operation: 'ADDED' | 'REMOVED'; readonly parentGroupName: string; readonly childGroupName: string }
  | {
      readonly type: 'SHADOW_EVENT';
      readonly operation: 'update' | 'delete';
      readonly thingName: string;
      readonly shadowName: string;
      readonly version?: number;
      /** Epoch seconds the origin accepted it (the accepted document's `timestamp`). */
      readonly timestamp?: number;
      /** An update's requested state (`null` values: keys removed). */
      readonly state?: { readonly desired?: unknown; readonly reported?: unknown };
    };

type Item = Record<string, unknown>;

function text(item: Item, field: string): string {
  const value = item[field];
  if (typeof value !== 'string' || value === '') throw new InvalidEventError(`event.${field}`, 'must be a non-empty string', { received: value });
  return value;
}

function oneOf<T extends string>(item: Item, field: string, allowed: readonly T[]): T {
  const value = item[field];
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw new InvalidEventError(`event.${field}`, `must be one of ${allowed.join(', ')}`, { received: value });
  }
  return value as T;
}

function optionalNumber(item: Item, field: string): number | undefined {
  const value = item[field];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidEventError(`event.${field}`, 'must be a number when present', { received: value });
  return n;
}

/**
 * The resource name at the end of an IoT ARN of `resourceType`
 * (`arn:aws:iot:<region>:<account>:thinggroup/<name>` → `<name>`).
 */
export function nameFromArn(item: Item, field: string, resourceType: 'thing' | 'thinggroup'): string {
  const arn = text(item, field);
  const match = new RegExp(`^arn:aws[a-z-]*:iot:[a-z0-9-]+:[^:]*:${resourceType}/([a-zA-Z0-9:_-]+)$`).exec(arn);
  if (!match) throw new InvalidEventError(`event.${field}`, `must be an AWS IoT ${resourceType} ARN`, { received: arn });
  return match[1];
}

const CRUD = ['CREATED', 'UPDATED', 'DELETED'] as const;
const ADD_REMOVE = ['ADDED', 'REMOVED'] as const;
// The documentation has shown both spellings for type associations over time.
const ASSOCIATION = ['ADDED', 'REMOVED', 'CREATED', 'DELETED'] as const;

/**
 * Validates a captured table item (registry event fields, or the shadow capture's fields) and
 * returns the replication event. Throws `InvalidEventError` naming the field and the rule.
 * https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
 */
export function parseEvent(raw: unknown): ReplicationEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidEventError('event', 'must be an object', { received: raw });
  const item = raw as Item;
  const type = oneOf(item, 'eventType', EVENT_TYPES);
  switch (type) {
    case 'THING_EVENT':
      return { type, operation: oneOf(item, 'operation', CRUD), thingName: text(item, 'thingName'), timestamp: optionalNumber(item, 'timestamp') };
    case 'THING_TYPE_EVENT':
      return { type, operation: oneOf(item, 'operation', CRUD), thingTypeName: text(item, 'thingTypeName'), timestamp: optionalNumber(item, 'timestamp') };
    case 'THING_TYPE_ASSOCIATION_EVENT':
      return { type, operation: oneOf(item, 'operation', ASSOCIATION), thingName: text(item, 'thingName'), thingTypeName: text(item, 'thingTypeName') };
    case 'THING_GROUP_EVENT':
      return { type, operation: oneOf(item, 'operation', CRUD), thingGroupName: text(item, 'thingGroupName'), timestamp: optionalNumber(item, 'timestamp') };
    case 'THING_GROUP_MEMBERSHIP_EVENT':
      return {
        type,
        operation: oneOf(item, 'operation', ADD_REMOVE),
        groupName: nameFromArn(item, 'groupArn', 'thinggroup'),
        thingName: nameFromArn(item, 'thingArn', 'thing'),
        timestamp: optionalNumber(item, 'timestamp'),
      };
    case 'THING_GROUP_HIERARCHY_EVENT':
      return { type, operation: oneOf(item, 'operation', ADD_REMOVE), parentGroupName: text(item, 'thingGroupName'), childGroupName: text(item, 'childGroupName') };
    case 'SHADOW_EVENT': {
      const shadowName = item.shadowName ?? '';
      if (typeof shadowName !== 'string') throw new InvalidEventError('event.shadowName', "must be a string ('' for the classic shadow)", { received: shadowName });
      const state = item.state;
      if (state !== undefined && state !== null && (typeof state !== 'object' || Array.isArray(state))) {
        throw new InvalidEventError('event.state', 'must be an object when present (the accepted document\'s state)', { received: state });
      }
      return {
        type,
        operation: oneOf(item, 'operation', ['update', 'delete'] as const),
        thingName: text(item, 'thingName'),
        shadowName,
        version: optionalNumber(item, 'version'),
        timestamp: optionalNumber(item, 'timestamp'),
        ...(state ? { state: state as { desired?: unknown; reported?: unknown } } : {}),
      };
    }
  }
}

/** The name logged with every line of an event: its thing, or the group/type it concerns. */
export function subjectOf(event: ReplicationEvent): { thingName?: string; resource: string } {
  switch (event.type) {
    case 'THING_EVENT':
    case 'THING_TYPE_ASSOCIATION_EVENT':
    case 'THING_GROUP_MEMBERSHIP_EVENT':
      return { thingName: event.thingName, resource: event.type === 'THING_GROUP_MEMBERSHIP_EVENT' ? `${event.groupName}/${event.thingName}` : event.thingName };
    case 'SHADOW_EVENT':
      return { thingName: event.thingName, resource: `${event.thingName}/${event.shadowName || 'classic'}` };
    case 'THING_TYPE_EVENT':
      return { resource: event.thingTypeName };
    case 'THING_GROUP_EVENT':
      return { resource: event.thingGroupName };
    case 'THING_GROUP_HIERARCHY_EVENT':
      return { resource: `${event.parentGroupName}/${event.childGroupName}` };
  }
}
