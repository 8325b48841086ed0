/**
 * The presigned MQTT URL, checked three ways: its parameters, the SDK's own signer, and an
 * independent SigV4 computation (node:crypto) that follows the IoT rule of leaving the session
 * token out of the canonical request.
 */
import { createHash, createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { presignMqttUrl } from '../../functions/lib/health/signed-url';

const HOST = 'abcdefgh12345-ats.iot.eu-west-1.amazonaws.com';
const REGION = 'eu-west-1';
const DATE = new Date('2026-01-02T03:04:05Z');
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjE+token/with=specials',
};

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** SigV4 query signing from the specification, written without the SDK. */
function independentSignature(params: URLSearchParams): string {
  const canonicalQuery = [...params.entries()]
    .filter(([k]) => k !== 'X-Amz-Signature' && k !== 'X-Amz-Security-Token')
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .sort()
    .join('&');
  const canonicalRequest = [
    'GET',
    '/mqtt',
    canonicalQuery,
    `host:${HOST}`,
    '',
    'host',
    createHash('sha256').update('').digest('hex'),
  ].join('\n');
  const scope = `20260102/${REGION}/iotdevicegateway/aws4_request`;
  const toSign = [
    'AWS4-HMAC-SHA256',
    '20260102T030405Z',
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key = hmac(`AWS4${CREDENTIALS.secretAccessKey}`, '20260102');
  for (const part of [REGION, 'iotdevicegateway', 'aws4_request']) key = hmac(key, part);
  return createHmac('sha256', key).update(toSign).digest('hex');
}

describe('presignMqttUrl', () => {
  it('builds wss://<endpoint>/mqtt with the SigV4 query parameters for iotdevicegateway', async () => {
    const url = new URL(
      await presignMqttUrl({ host: HOST, region: REGION, credentials: CREDENTIALS, signingDate: DATE }),
    );

    expect(url.protocol).toBe('wss:');
    expect(url.host).toBe(HOST);
    expect(url.pathname).toBe('/mqtt');
    const q = url.searchParams;
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe(
      `${CREDENTIALS.accessKeyId}/20260102/${REGION}/iotdevicegateway/aws4_request`,
    );
    expect(q.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    expect(q.get('X-Amz-Security-Token')).toBe(CREDENTIALS.sessionToken);
  });

  it('appends the session token after the signature, URL-encoded, as the last parameter', async () => {
    const raw = await presignMqttUrl({ host: HOST, region: REGION, credentials: CREDENTIALS, signingDate: DATE });

    expect(raw.endsWith(`&X-Amz-Security-Token=${encodeURIComponent(CREDENTIALS.sessionToken)}`)).toBe(true);
    expect(raw.indexOf('X-Amz-Signature=')).toBeLessThan(raw.indexOf('X-Amz-Security-Token='));
  });

  it("signs exactly as the SDK's SigV4 signer does for the same request without the token", async () => {
    const url = new URL(
      await presignMqttUrl({ host: HOST, region: REGION, credentials: CREDENTIALS, signingDate: DATE }),
    );
    const sdk = new SignatureV4({
      service: 'iotdevicegateway',
      region: REGION,
      credentials: { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: CREDENTIALS.secretAccessKey },
      sha256: Sha256,
    });

    const expected = await sdk.presign(
      { method: 'GET', protocol: 'wss:', hostname: HOST, path: '/mqtt', headers: { host: HOST }, query: {} },
      { signingDate: DATE, expiresIn: 60 },
    );

    expect(expected.query?.['X-Amz-Security-Token']).toBeUndefined();
    for (const [k, v] of Object.entries(expected.query ?? {})) expect(url.searchParams.get(k)).toBe(v);
  });

  it('matches an independent SigV4 computation that leaves the token out of the canonical request', async () => {
    const url = new URL(
      await presignMqttUrl({ host: HOST, region: REGION, credentials: CREDENTIALS, signingDate: DATE }),
    );

    expect(url.searchParams.get('X-Amz-Signature')).toBe(independentSignature(url.searchParams));
  });

  it('differs from the signature a token-in-the-canonical-request signer would make (the IoT quirk matters)', async () => {
    const url = new URL(
      await presignMqttUrl({ host: HOST, region: REGION, credentials: CREDENTIALS, signingDate: DATE }),
    );
    const withToken = await new SignatureV4({
      service: 'iotdevicegateway',
      region: REGION,
      credentials: CREDENTIALS,
      sha256: Sha256,
    }).presign(
      { method: 'GET', protocol: 'wss:', hostname: HOST, path: '/mqtt', headers: { host: HOST }, query: {} },
      { signingDate: DATE, expiresIn: 60 },
    );

    expect(withToken.query?.['X-Amz-Signature']).not.toBe(url.searchParams.get('X-Amz-Signature'));
  });

  it('adds no token parameter for long-term credentials', async () => {
    const { sessionToken: _omit, ...longTerm } = CREDENTIALS;
    const url = new URL(await presignMqttUrl({ host: HOST, region: REGION, credentials: longTerm, signingDate: DATE }));

    expect(url.searchParams.has('X-Amz-Security-Token')).toBe(false);
    expect(url.searchParams.get('X-Amz-Signature')).toBe(independentSignature(url.searchParams));
  });
});
