// What moto cannot produce: throttling, 5xx, AWS's 5-minute wait before deleting a deprecated
// thing type, UpdateThingType (not implemented by moto 5.2.5), and multi-page listings (moto
// returns ListThingPrincipals, ListAttachedPolicies, ListNamedShadowsForThing... in one page
// whatever the page size). These use aws-sdk-client-mock (the only tests here that do), because
// an emulator that answers every call in full cannot fail or paginate them.
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  CreateThingGroupCommand,
  DescribeThingGroupCommand,
  DeleteThingCommand,
  DeleteThingTypeCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  DeprecateThingTypeCommand,
  DescribeThingCommand,
  DescribeThingTypeCommand,
  InternalFailureException,
  InvalidRequestException,
  IoTClient,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
  UnauthorizedException,
  UpdateThingTypeCommand,
  CreatePolicyVersionCommand,
  ListPolicyVersionsCommand,
  VersionsLimitExceededException,
} from '@aws-sdk/client-iot';
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  ThrottlingException as DataThrottlingException,
} from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError, ReplicationError } from '../../functions/lib/errors';
import { isTransient } from '../../functions/lib/aws';
import { applyEvent, createContext, syncCertificate } from '../../functions/lib/replication';
import { syncPolicy } from '../../functions/lib/replication/policies';
import { membershipEvent, PRIMARY, silentLogger, shadowEvent, thingEvent, thingGroupEvent, thingTypeEvent } from '../support/fleet';

const iot = mockClient(IoTClient);
const data = mockClient(IoTDataPlaneClient);
const ctx = createContext({
  originRegion: 'us-east-1',
  targetRegion: 'us-west-2',
  mode: 'complete',
  endpoint: 'http://127.0.0.1:9', // never reached: every client is mocked
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  logger: silentLogger(),
});
// A public self-signed test certificate (its key was never kept): only its fingerprint matters.
const FIXTURE_PEM = `-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUc+CIAQ9Y0NhlEPiiyFi87r30S/kwCgYIKoZIzj0EAwIw
HjEcMBoGA1UEAwwTaW90LWRyIHRlc3QgZml4dHVyZTAeFw0yNjExMjYxMzQ0NDFa
Fw0zNjExMjMxMzQ0NDFaMB4xHDAaBgNVBAMME2lvdC1kciB0ZXN0IGZpeHR1cmUw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR24xUOVgKg8qJOywniPICJ9YcrkD9l
szzrW5ryLMMvqo9QaAhSdUgXx+s+dbRZy7qnadbNljN44DWYCG1OVOwRo1MwUTAd
BgNVHQ4EFgQUy866/Lkuf+eWiJJ4bHo0PZ7SjA8wHwYDVR0jBBgwFoAUy866/Lku
f+eWiJJ4bHo0PZ7SjA8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiB0MINbsmWPbzamStZ2M8c0BICW7poQZFTnqXkEjhFmGQIhAOQZ70m6vzhXEKuH
sSd/cn8PnhMxxkbtYnSHDu7zIIxD
-----END CERTIFICATE-----\n`;
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode }, message: 'injected' });

beforeEach(() => {
  iot.reset();
  data.reset();
});
afterAll(() => {
  iot.restore();
  data.restore();
});

describe('Replication: AWS faults', () => {
  it.each([
    ['ThrottlingException', () => new ThrottlingException(meta(400))],
    ['InternalFailureException (500)', () => new InternalFailureException(meta(500))],
    ['ServiceUnavailableException (503)', () => new ServiceUnavailableException(meta(503))],
    ['an unmodelled 502 from a proxy', () => Object.assign(new Error('Bad Gateway'), { name: 'Unknown', $metadata: { httpStatusCode: 502 } })],
  ])('classifies %s from the IoT API as RetryableError', async (_label, fault) => {
    iot.on(DescribeThingCommand).rejects(fault());
    const error = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 't' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ name: 'RetryableError' });
    expect((error as Error).message).toContain('DescribeThing t (origin)');
    expect((error as Error).cause).toBeDefined();
  });

  it('classifies a throttled shadow read as RetryableError', async () => {
    data.on(GetThingShadowCommand).rejects(new DataThrottlingException(meta(429)));
    await expect(applyEvent(ctx, shadowEvent(PRIMARY, 'update', 't', '', { version: 1 }), 'e-1')).rejects.toBeInstanceOf(RetryableError);
  });

  it('classifies a permanent failure (unauthorized) as ReplicationError, not retryable', async () => {
    iot.on(DescribeThingCommand).rejects(new UnauthorizedException(meta(401)));
    const error = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 't' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(isTransient(error)).toBe(false);
  });

  it('retries a thing type delete AWS refuses within 5 minutes of deprecation', async () => {
    // primary: gone; secondary: present, not deprecated yet
    let calls = 0;
    iot.on(DescribeThingTypeCommand).callsFake(async () => {
      calls++;
      if (calls === 1) throw new ResourceNotFoundException(meta(404));
      return { thingTypeName: 'old', thingTypeMetadata: { deprecated: false } };
    });
    iot.on(DeprecateThingTypeCommand).resolves({});
    iot.on(DeleteThingTypeCommand).rejects(new InvalidRequestException({ ...meta(400), message: 'Thing type was deprecated less than 5 minutes ago' }));

    const error = await applyEvent(ctx, thingTypeEvent(PRIMARY, 'DELETED', { name: 'old' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(iot.commandCalls(DeprecateThingTypeCommand)[0].args[0].input).toEqual({ thingTypeName: 'old' });
  });

  it('reads every page of principals, attached policies and named shadows', async () => {
    // primary thing with principals over 3 pages (the 2nd is not a certificate), each listing paged
    const arn = (id: string) => `arn:aws:iot:us-east-1:123456789012:cert/${id.repeat(64)}`;
    // secondary: the thing exists with principals on 3 pages -> all detached, all named shadows deleted
    let describes = 0;
    iot.on(DescribeThingCommand).callsFake(async () => {
      describes++;
      if (describes === 1) throw new ResourceNotFoundException(meta(404)); // primary: deleted
      return { thingName: 't' };
    });
    // The SDK paginator reuses one input object across pages: record each request's token.
    const principalTokens: (string | undefined)[] = [];
    const principalPages: Record<string, object> = {
      '': { principals: [arn('a')], nextToken: 'p2' },
      p2: { principals: ['arn:aws:cognito-identity:us-east-1:123456789012:identitypool/x'], nextToken: 'p3' },
      p3: { principals: [arn('b')] },
    };
    iot.on(ListThingPrincipalsCommand).callsFake(async (input: { nextToken?: string }) => {
      principalTokens.push(input.nextToken);
      return principalPages[input.nextToken ?? ''];
    });
    iot.on(DetachThingPrincipalCommand).resolves({});
    iot.on(ListPrincipalThingsCommand).resolves({ things: ['other-thing'] }); // certificates kept
    data
      .on(ListNamedShadowsForThingCommand)
      .resolvesOnce({ results: ['s1'], nextToken: 'n2' })
      .resolvesOnce({ results: ['s2'], nextToken: 'n3' })
      .resolvesOnce({ results: ['s3'] });
    data.on(DeleteThingShadowCommand).resolves({});
    iot.on(DeleteThingCommand).resolves({});

    const outcomes = await applyEvent(ctx, thingEvent(PRIMARY, 'DELETED', { name: 't' }), 'e-1');

    expect(principalTokens).toEqual([undefined, 'p2', 'p3']);
    expect(iot.commandCalls(DetachThingPrincipalCommand)).toHaveLength(3);
    expect(data.commandCalls(DeleteThingShadowCommand).map((c) => c.args[0].input.shadowName)).toEqual(['s1', 's2', 's3', undefined]);
    expect(outcomes.filter((o) => o.kind === 'certificate').map((o) => o.action)).toEqual(['unchanged', 'unchanged']);
  });

  it('reads every page of a certificate\'s attached policies in the primary', async () => {
    const id = 'c'.repeat(64);
    const certificatePem = FIXTURE_PEM;
    iot.on(DescribeCertificateCommand).callsFake(async (input: { certificateId: string }) => {
      if (input.certificateId === id) {
        return { certificateDescription: { certificateId: id, certificateArn: `arn:aws:iot:us-east-1:123456789012:cert/${id}`, status: 'ACTIVE', certificatePem } };
      }
      return { certificateDescription: { certificateId: input.certificateId, certificateArn: `arn:aws:iot:us-west-2:123456789012:cert/${input.certificateId}`, status: 'ACTIVE', certificatePem } };
    });
    // The SDK paginator reuses one input object across pages: record each request's marker.
    const markers: (string | undefined)[] = [];
    iot.on(ListAttachedPoliciesCommand).callsFake(async (input: { target: string; marker?: string }) => {
      markers.push(input.marker);
      if (input.target !== `arn:aws:iot:us-east-1:123456789012:cert/${id}`) return { policies: [{ policyName: 'p1' }, { policyName: 'p2' }] }; // secondary
      return input.marker === undefined ? { policies: [{ policyName: 'p1' }], nextMarker: 'm2' } : { policies: [{ policyName: 'p2' }] };
    });
    iot.on(GetPolicyCommand).resolves({ policyDocument: '{"Statement":[]}' });
    iot.on(AttachPolicyCommand).resolves({});

    await syncCertificate(ctx, id);

    expect(iot.commandCalls(AttachPolicyCommand).map((c) => c.args[0].input.policyName)).toEqual(['p1', 'p2']);
    expect(markers).toEqual([undefined, 'm2', undefined]);
  });

  it('reports a dynamic thing group (moto has none) as skipped, for the group and its memberships', async () => {
    iot.on(DescribeThingGroupCommand).resolves({ thingGroupName: 'dyn', queryString: 'attributes.site:paris', indexName: 'AWS_Things' });
    expect(await applyEvent(ctx, thingGroupEvent(PRIMARY, 'CREATED', { name: 'dyn' }), 'e-1')).toEqual([
      { kind: 'thingGroup', name: 'dyn', action: 'skipped', detail: 'dynamic thing group (query-defined): not replicated' },
    ]);
    expect(await applyEvent(ctx, membershipEvent(PRIMARY, 'ADDED', 'dyn', 't'), 'e-2')).toEqual([
      expect.objectContaining({ kind: 'membership', name: 'dyn/t', action: 'skipped' }),
    ]);
    expect(iot.commandCalls(CreateThingGroupCommand)).toHaveLength(0);
    expect(iot.commandCalls(AddThingToThingGroupCommand)).toHaveLength(0);
  });

  it('updates description and searchable attributes with UpdateThingType (moto lacks it)', async () => {
    let calls = 0;
    iot.on(DescribeThingTypeCommand).callsFake(async () => {
      calls++;
      return calls === 1
        ? { thingTypeName: 'm', thingTypeProperties: { thingTypeDescription: 'new', searchableAttributes: ['a', 'b'] }, thingTypeMetadata: { deprecated: false } }
        : { thingTypeName: 'm', thingTypeProperties: { thingTypeDescription: 'old', searchableAttributes: ['a'] }, thingTypeMetadata: { deprecated: false } };
    });
    iot.on(UpdateThingTypeCommand).resolves({});
    const outcomes = await applyEvent(ctx, thingTypeEvent(PRIMARY, 'UPDATED', { name: 'm' }), 'e-1');
    expect(outcomes).toEqual([{ kind: 'thingType', name: 'm', action: 'updated', detail: 'properties' }]);
    expect(iot.commandCalls(UpdateThingTypeCommand)[0].args[0].input).toEqual({
      thingTypeName: 'm',
      thingTypeProperties: { thingTypeDescription: 'new', searchableAttributes: ['a', 'b'] },
    });
  });

  it('re-reads a policy when a concurrent execution changed its versions (a race moto cannot stage)', async () => {
    // Two executions for things sharing one policy: the other one fills the five versions
    // between our ListPolicyVersions and CreatePolicyVersion, then its version is the wanted one.
    const wanted = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-west-2:123456789012:client/x"}]}';
    const fromPrimary = wanted.replace('us-west-2', 'us-east-1');
    const old = wanted.replace('client/x', 'client/old');
    iot
      .on(GetPolicyCommand)
      .resolvesOnce({ policyName: 'p', policyDocument: fromPrimary }) // primary
      .resolvesOnce({ policyName: 'p', policyDocument: old }) // secondary, before the race
      .resolvesOnce({ policyName: 'p', policyDocument: fromPrimary }) // primary, round 2
      .resolvesOnce({ policyName: 'p', policyDocument: wanted }); // secondary, after the other writer
    iot.on(ListPolicyVersionsCommand).resolves({ policyVersions: [{ versionId: '1', isDefaultVersion: true }] });
    iot.on(CreatePolicyVersionCommand).rejects(new VersionsLimitExceededException(meta(409)));
    expect(await syncPolicy(ctx, 'p')).toEqual({ kind: 'policy', name: 'p', action: 'unchanged' });
    expect(iot.commandCalls(CreatePolicyVersionCommand)).toHaveLength(1);
  });

  it('hands a policy race that persists back to the workflow as retryable', async () => {
    iot.on(GetPolicyCommand).callsFake(async (input: { policyName: string }) => ({
      policyName: input.policyName,
      policyDocument: JSON.stringify({ n: iot.commandCalls(GetPolicyCommand).length % 2 }),
    }));
    iot.on(ListPolicyVersionsCommand).resolves({ policyVersions: [] });
    iot.on(CreatePolicyVersionCommand).rejects(new VersionsLimitExceededException(meta(409)));
    await expect(syncPolicy(ctx, 'p')).rejects.toBeInstanceOf(RetryableError);
    expect(iot.commandCalls(CreatePolicyVersionCommand)).toHaveLength(4);
  });
});
