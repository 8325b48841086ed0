/**
 * Replication-table items in the documented registry-event and shadow shapes, plus the
 * bookkeeping fields the capture rules add (uuid, expires, originRegion, topic): see
 * stacks/registry-capture.ts and https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
 * Used by `iot-dr drill` and re-exported to the tests by __tests__/support/fleet.ts.
 */
import { randomUUID } from 'node:crypto';

/** moto's fixed account id. */
export const ACCOUNT = '123456789012';

type Bookkeeping = {
  readonly uuid: string;
  readonly expires: number;
  readonly originRegion: string;
  readonly topic: string;
};

function item<T extends Record<string, unknown>>(topic: string, region: string, fields: T): T & Bookkeeping {
  return {
    ...fields,
    uuid: randomUUID(),
    expires: Math.floor(Date.now() / 1000) + 48 * 3600,
    originRegion: region,
    topic,
  };
}

const registry = (eventType: string, operation: string) => ({
  eventType,
  eventId: randomUUID().replace(/-/g, ''),
  timestamp: Date.now(),
  operation,
  accountId: ACCOUNT,
});

type Crud = 'CREATED' | 'UPDATED' | 'DELETED';

/** THING_EVENT on `$aws/events/thing/<name>/<op>`. */
export function thingEvent(
  region: string,
  operation: Crud,
  thing: {
    name: string;
    type?: string | null;
    attributes?: Record<string, string>;
    version?: number;
    timestamp?: number;
  },
) {
  return item(`$aws/events/thing/${thing.name}/${operation.toLowerCase()}`, region, {
    ...registry('THING_EVENT', operation),
    ...(thing.timestamp !== undefined ? { timestamp: thing.timestamp } : {}),
    thingId: randomUUID(),
    thingName: thing.name,
    versionNumber: thing.version ?? 1,
    thingTypeName: thing.type ?? null,
    attributes: thing.attributes ?? {},
  });
}

/** THING_TYPE_EVENT on `$aws/events/thingType/<name>/<op>`. */
export function thingTypeEvent(
  region: string,
  operation: Crud,
  type: { name: string; deprecated?: boolean; description?: string; searchableAttributes?: string[] },
) {
  return item(`$aws/events/thingType/${type.name}/${operation.toLowerCase()}`, region, {
    ...registry('THING_TYPE_EVENT', operation),
    thingTypeId: randomUUID(),
    thingTypeName: type.name,
    isDeprecated: type.deprecated ?? false,
    deprecationDate: type.deprecated ? Date.now() : null,
    searchableAttributes: type.searchableAttributes ?? [],
    description: type.description ?? '',
  });
}

/** THING_TYPE_ASSOCIATION_EVENT on `$aws/events/thingTypeAssociation/thing/<thing>/<type>`. */
export function typeAssociationEvent(region: string, operation: 'ADDED' | 'REMOVED', thing: string, type: string) {
  const fields = registry('THING_TYPE_ASSOCIATION_EVENT', operation);
  return item(`$aws/events/thingTypeAssociation/thing/${thing}/${type}`, region, {
    eventId: fields.eventId,
    eventType: fields.eventType,
    operation,
    thingId: randomUUID(),
    thingName: thing,
    thingTypeName: type,
    timestamp: fields.timestamp,
  });
}

/** THING_GROUP_EVENT on `$aws/events/thingGroup/<name>/<op>`. */
export function thingGroupEvent(
  region: string,
  operation: Crud,
  group: {
    name: string;
    parent?: string;
    rootToParent?: string[];
    description?: string;
    attributes?: Record<string, string>;
    version?: number;
  },
) {
  return item(`$aws/events/thingGroup/${group.name}/${operation.toLowerCase()}`, region, {
    ...registry('THING_GROUP_EVENT', operation),
    thingGroupId: randomUUID(),
    thingGroupName: group.name,
    versionNumber: group.version ?? 1,
    parentGroupName: group.parent ?? null,
    parentGroupId: group.parent ? randomUUID() : null,
    description: group.description ?? null,
    rootToParentThingGroups: (group.rootToParent ?? []).map((g) => ({
      groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${g}`,
      groupId: randomUUID(),
    })),
    attributes: group.attributes ?? {},
    dynamicGroupMappingId: null,
  });
}

/** THING_GROUP_MEMBERSHIP_EVENT: names only inside the ARNs. */
export function membershipEvent(region: string, operation: 'ADDED' | 'REMOVED', group: string, thing: string) {
  return item(
    `$aws/events/thingGroupMembership/thingGroup/${group}/thing/${thing}/${operation.toLowerCase()}`,
    region,
    {
      ...registry('THING_GROUP_MEMBERSHIP_EVENT', operation),
      groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${group}`,
      groupId: randomUUID(),
      thingArn: `arn:aws:iot:${region}:${ACCOUNT}:thing/${thing}`,
      thingId: randomUUID(),
      membershipId: randomUUID(),
    },
  );
}

/** THING_GROUP_HIERARCHY_EVENT: `thingGroupName` is the parent. */
export function hierarchyEvent(region: string, operation: 'ADDED' | 'REMOVED', parent: string, child: string) {
  return item(
    `$aws/events/thingGroupHierarchy/thingGroup/${parent}/childThingGroup/${child}/${operation.toLowerCase()}`,
    region,
    {
      ...registry('THING_GROUP_HIERARCHY_EVENT', operation),
      thingGroupId: randomUUID(),
      thingGroupName: parent,
      childGroupId: randomUUID(),
      childGroupName: child,
    },
  );
}

/**
 * A shadow item as the shadow capture rules write it: the `.../update/accepted` or
 * `.../delete/accepted` document plus eventType/operation/thingName/shadowName ('' = classic).
 */
export function shadowEvent(
  region: string,
  operation: 'update' | 'delete',
  thing: string,
  shadowName: string,
  accepted: { state?: Record<string, unknown>; version: number; timestamp?: number; clientToken?: string },
) {
  const topic = shadowName
    ? `$aws/things/${thing}/shadow/name/${shadowName}/${operation}/accepted`
    : `$aws/things/${thing}/shadow/${operation}/accepted`;
  return item(topic, region, {
    ...(operation === 'update' ? { state: accepted.state ?? {}, metadata: {} } : {}),
    version: accepted.version,
    timestamp: accepted.timestamp ?? Math.floor(Date.now() / 1000),
    ...(accepted.clientToken ? { clientToken: accepted.clientToken } : {}),
    eventType: 'SHADOW_EVENT',
    operation,
    thingName: thing,
    shadowName,
  });
}

/** Any table item. */
export type TableItem = { readonly uuid: string } & Record<string, unknown>;

/** The Step Functions state input a worker receives for a table item. */
export function workerInput(tableItem: TableItem) {
  return { eventId: tableItem.uuid, event: tableItem };
}
