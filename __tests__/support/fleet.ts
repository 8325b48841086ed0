// Fleet builders for the primary region on moto, and registry/shadow event items shaped as the
// capture rules write them into the replication table (not a test file).
// Event shapes: https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
import { randomUUID } from 'node:crypto';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, UpdateThingShadowCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { Logger } from '@aws-lambda-powertools/logger';
import { createContext, type ReplicationContext, type ReplicationMode } from '../../functions/lib/replication';
import { FAKE_CREDENTIALS, motoIot, motoIotData } from './moto';

/** moto's fixed account id. */
export const ACCOUNT = '123456789012';

/** A region's clients on moto. */
export interface Side {
  readonly region: string;
  readonly iot: IoTClient;
  readonly data: IoTDataPlaneClient;
}

export async function createThingType(side: Side, name: string, props: { description?: string; searchableAttributes?: string[] } = {}) {
  await side.iot.send(
    new CreateThingTypeCommand({
      thingTypeName: name,
      thingTypeProperties: { thingTypeDescription: props.description, searchableAttributes: props.searchableAttributes },
    }),
  );
}

export async function createThing(side: Side, name: string, props: { type?: string; attributes?: Record<string, string> } = {}) {
  return side.iot.send(new CreateThingCommand({ thingName: name, thingTypeName: props.type, attributePayload: { attributes: props.attributes ?? {} } }));
}

export async function createGroup(side: Side, name: string, props: { parent?: string; description?: string; attributes?: Record<string, string> } = {}) {
  return side.iot.send(
    new CreateThingGroupCommand({
      thingGroupName: name,
      parentGroupName: props.parent,
      thingGroupProperties: { thingGroupDescription: props.description, attributePayload: { attributes: props.attributes ?? {} } },
    }),
  );
}

export async function addToGroup(side: Side, group: string, thing: string) {
  await side.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName: thing }));
}

/** A certificate from CreateKeysAndCertificate (the private key is discarded at once). */
export async function createCertificate(side: Side, active = true) {
  const { certificateArn, certificateId, certificatePem } = await side.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: active }));
  return { arn: certificateArn as string, id: certificateId as string, pem: certificatePem as string };
}

/**
 * A device policy whose resources are ARNs in `side.region`, plus a topic NAME that contains the
 * region as free text (must survive replication unchanged).
 */
export function devicePolicyDocument(
  region: string,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an IoT policy variable, not a JS template
  thingName = '${iot:Connection.Thing.ThingName}',
): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `arn:aws:iot:${region}:${ACCOUNT}:client/${thingName}` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: `arn:aws:iot:${region}:${ACCOUNT}:topic/telemetry/${region}/data` },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `arn:aws:iot:${region}:${ACCOUNT}:topicfilter/telemetry/${region}/*` },
    ],
  });
}

export async function createPolicy(side: Side, name: string, document = devicePolicyDocument(side.region)) {
  await side.iot.send(new CreatePolicyCommand({ policyName: name, policyDocument: document }));
}

export async function attachPolicy(side: Side, policy: string, certArn: string) {
  await side.iot.send(new AttachPolicyCommand({ policyName: policy, target: certArn }));
}

export async function attachCertificate(side: Side, thing: string, certArn: string) {
  await side.iot.send(new AttachThingPrincipalCommand({ thingName: thing, principal: certArn }));
}

/** Writes a shadow in the primary and returns the accepted document (version, timestamp). */
export async function updateShadow(side: Side, thing: string, shadowName: string, state: Record<string, unknown>) {
  const result = await side.data.send(
    new UpdateThingShadowCommand({ thingName: thing, shadowName: shadowName || undefined, payload: Buffer.from(JSON.stringify({ state })) }),
  );
  return JSON.parse(Buffer.from(result.payload as Uint8Array).toString()) as { state: Record<string, unknown>; version: number; timestamp: number };
}

/** The shadow document in a region, or undefined when there is none. */
export async function readShadow(side: Side, thing: string, shadowName = ''): Promise<{ state: Record<string, unknown>; version: number } | undefined> {
  try {
    const result = await side.data.send(new GetThingShadowCommand({ thingName: thing, shadowName: shadowName || undefined }));
    return JSON.parse(Buffer.from(result.payload as Uint8Array).toString());
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeThing(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingCommand({ thingName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeGroup(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingGroupCommand({ thingGroupName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeType(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingTypeCommand({ thingTypeName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** One fleet device: a thing with a type, attributes, a certificate and a policy attached. */
export async function createDevice(side: Side, name: string, props: { type?: string; attributes?: Record<string, string>; policy: string }) {
  await createThing(side, name, { type: props.type, attributes: props.attributes });
  const cert = await createCertificate(side);
  await attachPolicy(side, props.policy, cert.arn);
  await attachCertificate(side, name, cert.arn);
  return cert;
}

// ---------------------------------------------------------------------------------------------
// Table items: the event's own JSON fields + uuid/expires/originRegion/topic (stacks/registry-capture.ts).

type Bookkeeping = {
  readonly uuid: string;
  readonly expires: number;
  readonly originRegion: string;
  readonly topic: string;
};

function item<T extends Record<string, unknown>>(topic: string, region: string, fields: T): T & Bookkeeping {
  return { ...fields, uuid: randomUUID(), expires: Math.floor(Date.now() / 1000) + 48 * 3600, originRegion: region, topic };
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
export function thingEvent(region: string, operation: Crud, thing: { name: string; type?: string | null; attributes?: Record<string, string>; version?: number; timestamp?: number }) {
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
export function thingTypeEvent(region: string, operation: Crud, type: { name: string; deprecated?: boolean; description?: string; searchableAttributes?: string[] }) {
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
  group: { name: string; parent?: string; rootToParent?: string[]; description?: string; attributes?: Record<string, string>; version?: number },
) {
  return item(`$aws/events/thingGroup/${group.name}/${operation.toLowerCase()}`, region, {
    ...registry('THING_GROUP_EVENT', operation),
    thingGroupId: randomUUID(),
    thingGroupName: group.name,
    versionNumber: group.version ?? 1,
    parentGroupName: group.parent ?? null,
    parentGroupId: group.parent ? randomUUID() : null,
    description: group.description ?? null,
    rootToParentThingGroups: (group.rootToParent ?? []).map((g) => ({ groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${g}`, groupId: randomUUID() })),
    attributes: group.attributes ?? {},
    dynamicGroupMappingId: null,
  });
}

/** THING_GROUP_MEMBERSHIP_EVENT: names only inside the ARNs. */
export function membershipEvent(region: string, operation: 'ADDED' | 'REMOVED', group: string, thing: string) {
  return item(`$aws/events/thingGroupMembership/thingGroup/${group}/thing/${thing}/${operation.toLowerCase()}`, region, {
    ...registry('THING_GROUP_MEMBERSHIP_EVENT', operation),
    groupArn: `arn:aws:iot:${region}:${ACCOUNT}:thinggroup/${group}`,
    groupId: randomUUID(),
    thingArn: `arn:aws:iot:${region}:${ACCOUNT}:thing/${thing}`,
    thingId: randomUUID(),
    membershipId: randomUUID(),
  });
}

/** THING_GROUP_HIERARCHY_EVENT: `thingGroupName` is the parent. */
export function hierarchyEvent(region: string, operation: 'ADDED' | 'REMOVED', parent: string, child: string) {
  return item(`$aws/events/thingGroupHierarchy/thingGroup/${parent}/childThingGroup/${child}/${operation.toLowerCase()}`, region, {
    ...registry('THING_GROUP_HIERARCHY_EVENT', operation),
    thingGroupId: randomUUID(),
    thingGroupName: parent,
    childGroupId: randomUUID(),
    childGroupName: child,
  });
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
  const topic = shadowName ? `$aws/things/${thing}/shadow/name/${shadowName}/${operation}/accepted` : `$aws/things/${thing}/shadow/${operation}/accepted`;
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

// ---------------------------------------------------------------------------------------------
// Two regions on one moto, and a replication context over them.


export const PRIMARY = 'us-east-1';
export const SECONDARY = 'us-west-2';

/** A logger that prints nothing (tests assert on outcomes, not on log lines). */
export const silentLogger = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** Primary and secondary clients on moto, and a replication context between them. */
export function twoRegions(endpoint: string, options: { mode?: ReplicationMode; principalGraceMs?: number; pageSize?: number } = {}) {
  const side = (region: string): Side => ({ region, iot: motoIot(endpoint, region), data: motoIotData(endpoint, region) });
  const ctx: ReplicationContext = createContext({
    primaryRegion: PRIMARY,
    secondaryRegion: SECONDARY,
    mode: options.mode ?? 'complete',
    endpoint,
    credentials: { ...FAKE_CREDENTIALS },
    maxAttempts: 1,
    logger: silentLogger(),
    principalGraceMs: options.principalGraceMs,
    pageSize: options.pageSize,
  });
  return { ctx, primary: side(PRIMARY), secondary: side(SECONDARY) };
}
