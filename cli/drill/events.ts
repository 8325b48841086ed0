/**
 * Replication-table items for the drill, in the documented registry-event shapes plus the
 * bookkeeping fields the capture rules add (uuid, expires, originRegion, topic): see
 * stacks/registry-capture.ts and https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
 */
import { randomUUID } from 'node:crypto';

export type TableItem = { readonly uuid: string; readonly eventType: string } & Record<string, unknown>;

const ACCOUNT = '123456789012';

function item(topic: string, region: string, fields: Record<string, unknown>): TableItem {
  return {
    ...fields,
    uuid: randomUUID(),
    expires: Math.floor(Date.now() / 1000) + 48 * 3600,
    originRegion: region,
    topic,
  } as unknown as TableItem;
}

const registry = (eventType: string, operation: string) => ({
  eventType,
  eventId: randomUUID().replace(/-/g, ''),
  timestamp: Date.now(),
  operation,
  accountId: ACCOUNT,
});

export function thingTypeCreated(
  region: string,
  name: string,
  description: string,
  searchableAttributes: string[],
): TableItem {
  return item(`$aws/events/thingType/${name}/created`, region, {
    ...registry('THING_TYPE_EVENT', 'CREATED'),
    thingTypeId: randomUUID(),
    thingTypeName: name,
    isDeprecated: false,
    deprecationDate: null,
    searchableAttributes,
    description,
  });
}

export function thingGroupCreated(
  region: string,
  name: string,
  parent: string | null,
  attributes: Record<string, string>,
): TableItem {
  return item(`$aws/events/thingGroup/${name}/created`, region, {
    ...registry('THING_GROUP_EVENT', 'CREATED'),
    thingGroupId: randomUUID(),
    thingGroupName: name,
    versionNumber: 1,
    parentGroupName: parent,
    parentGroupId: parent ? randomUUID() : null,
    description: null,
    rootToParentThingGroups: parent
      ? [{ groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${parent}`, groupId: randomUUID() }]
      : [],
    attributes,
    dynamicGroupMappingId: null,
  });
}

export function thingCreated(
  region: string,
  name: string,
  type: string,
  attributes: Record<string, string>,
): TableItem {
  return item(`$aws/events/thing/${name}/created`, region, {
    ...registry('THING_EVENT', 'CREATED'),
    thingId: randomUUID(),
    thingName: name,
    versionNumber: 1,
    thingTypeName: type,
    attributes,
  });
}

export function membershipAdded(region: string, group: string, thing: string): TableItem {
  return item(`$aws/events/thingGroupMembership/thingGroup/${group}/thing/${thing}/added`, region, {
    ...registry('THING_GROUP_MEMBERSHIP_EVENT', 'ADDED'),
    groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${group}`,
    groupId: randomUUID(),
    thingArn: `arn:aws:iot:${region}:${ACCOUNT}:thing/${thing}`,
    thingId: randomUUID(),
    membershipId: randomUUID(),
  });
}

/** The `.../update/accepted` document as the shadow capture rule stores it. */
export function shadowUpdated(
  region: string,
  thing: string,
  shadowName: string,
  accepted: { state: unknown; version: number; timestamp: number },
): TableItem {
  const topic = shadowName
    ? `$aws/things/${thing}/shadow/name/${shadowName}/update/accepted`
    : `$aws/things/${thing}/shadow/update/accepted`;
  return item(topic, region, {
    state: accepted.state,
    metadata: {},
    version: accepted.version,
    timestamp: accepted.timestamp,
    eventType: 'SHADOW_EVENT',
    operation: 'update',
    thingName: thing,
    shadowName,
  });
}
