/**
 * SigV4 presigned WebSocket URL for AWS IoT Core's MQTT endpoint.
 * https://docs.aws.amazon.com/iot/latest/developerguide/protocols.html#mqtt-ws
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** The service name IoT Core's device gateway signs with. */
export const IOT_SIGNING_SERVICE = 'iotdevicegateway';
/** The WebSocket path of the MQTT endpoint. */
export const MQTT_PATH = '/mqtt';

/** AWS credentials (what every SDK credential provider resolves to). */
export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignedUrlOptions {
  /** Data endpoint host name (`xxxx-ats.iot.<region>.amazonaws.com`). */
  readonly host: string;
  readonly region: string;
  readonly credentials: Credentials;
  /** Signing time. @default now */
  readonly signingDate?: Date;
  /** Lifetime of the URL; it is used at once, so it is short. @default 60 */
  readonly expiresInSeconds?: number;
}

/**
 * Presigns `GET wss://<host>/mqtt` with the SDK's SigV4 signer. IoT Core quirk: the session
 * token must NOT be part of the canonical request; it is appended as `X-Amz-Security-Token` after
 * the signature is computed (Identity and access management, "IAM users, groups, and roles":
 * https://docs.aws.amazon.com/iot/latest/developerguide/iam-users-groups-roles.html).
 */
export async function presignMqttUrl(options: SignedUrlOptions): Promise<string> {
  const { sessionToken, ...longTerm } = options.credentials;
  const signer = new SignatureV4({
    service: IOT_SIGNING_SERVICE,
    region: options.region,
    // Signed without the token on purpose (see above).
    credentials: { accessKeyId: longTerm.accessKeyId, secretAccessKey: longTerm.secretAccessKey },
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'wss:',
      hostname: options.host,
      path: MQTT_PATH,
      headers: { host: options.host },
      query: {},
    },
    { expiresIn: options.expiresInSeconds ?? 60, signingDate: options.signingDate },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  const token = sessionToken ? `&X-Amz-Security-Token=${encodeURIComponent(sessionToken)}` : '';
  return `wss://${options.host}${MQTT_PATH}?${query}${token}`;
}
