/**
 * Fleet builders for a region (moto in the drill and the tests): things, types, groups,
 * certificates, policies and shadows created through the IoT APIs. Used by `iot-dr drill` and
 * re-exported to the tests by __tests__/support/fleet.ts.
 */
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import { type IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { ACCOUNT } from './events';

/** A region's clients. */
export interface Side {
  readonly region: string;
  readonly iot: IoTClient;
  readonly data: IoTDataPlaneClient;
}

export async function createThingType(
  side: Side,
  name: string,
  props: { description?: string; searchableAttributes?: string[] } = {},
) {
  await side.iot.send(
    new CreateThingTypeCommand({
      thingTypeName: name,
      thingTypeProperties: {
        thingTypeDescription: props.description,
        searchableAttributes: props.searchableAttributes,
      },
    }),
  );
}

export async function createThing(
  side: Side,
  name: string,
  props: { type?: string; attributes?: Record<string, string> } = {},
) {
  return side.iot.send(
    new CreateThingCommand({
      thingName: name,
      thingTypeName: props.type,
      attributePayload: { attributes: props.attributes ?? {} },
    }),
  );
}

export async function createGroup(
  side: Side,
  name: string,
  props: { parent?: string; description?: string; attributes?: Record<string, string> } = {},
) {
  return side.iot.send(
    new CreateThingGroupCommand({
      thingGroupName: name,
      parentGroupName: props.parent,
      thingGroupProperties: {
        thingGroupDescription: props.description,
        attributePayload: { attributes: props.attributes ?? {} },
      },
    }),
  );
}

export async function addToGroup(side: Side, group: string, thing: string) {
  await side.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName: thing }));
}

/** A certificate from CreateKeysAndCertificate (the private key is discarded at once). */
export async function createCertificate(side: Side, active = true) {
  const { certificateArn, certificateId, certificatePem } = await side.iot.send(
    new CreateKeysAndCertificateCommand({ setAsActive: active }),
  );
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
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: `arn:aws:iot:${region}:${ACCOUNT}:topic/telemetry/${region}/data`,
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: `arn:aws:iot:${region}:${ACCOUNT}:topicfilter/telemetry/${region}/*`,
      },
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
    new UpdateThingShadowCommand({
      thingName: thing,
      shadowName: shadowName || undefined,
      payload: Buffer.from(JSON.stringify({ state })),
    }),
  );
  return JSON.parse(Buffer.from(result.payload as Uint8Array).toString()) as {
    state: Record<string, unknown>;
    version: number;
    timestamp: number;
  };
}

/** One fleet device: a thing with a type, attributes, a certificate and a policy attached. */
export async function createDevice(
  side: Side,
  name: string,
  props: { type?: string; attributes?: Record<string, string>; policy: string },
) {
  await createThing(side, name, { type: props.type, attributes: props.attributes });
  const cert = await createCertificate(side);
  await attachPolicy(side, props.policy, cert.arn);
  await attachCertificate(side, name, cert.arn);
  return cert;
}
