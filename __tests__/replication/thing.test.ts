// Thing replication (THING_EVENT, THING_TYPE_ASSOCIATION_EVENT) against moto, two regions.
import {
  DescribeCertificateCommand,
  GetPolicyCommand,
  ListAttachedPoliciesCommand,
  ListPolicyVersionsCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
  UpdateThingCommand,
  DetachThingPrincipalCommand,
  DeleteThingCommand,
  CreatePolicyVersionCommand,
} from '@aws-sdk/client-iot';
import { applyEvent, certificateIdFromPem, rewriteRegionInArns } from '../../functions/lib/replication';
import { RetryableError } from '../../functions/lib/errors';
import {
  attachCertificate,
  attachPolicy,
  createCertificate,
  createDevice,
  createPolicy,
  createThing,
  createThingType,
  describeThing,
  devicePolicyDocument,
  PRIMARY,
  SECONDARY,
  thingEvent,
  twoRegions,
  typeAssociationEvent,
  updateShadow,
  readShadow,
} from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
});
afterAll(() => moto?.stop());
beforeEach(() => moto.reset());

const principalsOf = async (thing: string) =>
  (await env.secondary.iot.send(new ListThingPrincipalsCommand({ thingName: thing }))).principals ?? [];
const certInSecondary = async (pem: string) => {
  try {
    return (await env.secondary.iot.send(new DescribeCertificateCommand({ certificateId: certificateIdFromPem(pem) }))).certificateDescription;
  } catch (error) {
    if ((error as Error).name !== 'ResourceNotFoundException') throw error;
    return undefined;
  }
};
const policyInSecondary = async (name: string) => {
  try {
    return await env.secondary.iot.send(new GetPolicyCommand({ policyName: name }));
  } catch {
    return undefined;
  }
};

describe('Replication: things', () => {
  it('replicates a created thing with its type, attributes, certificate (same PEM and status) and policy (region rewritten in ARNs only)', async () => {
    // Given
    await createThingType(env.primary, 'sensor', { description: 'Sensors', searchableAttributes: ['site'] });
    await createPolicy(env.primary, 'device');
    const cert = await createDevice(env.primary, 'dev-1', { type: 'sensor', attributes: { site: 'paris', fw: '1.0' }, policy: 'device' });

    // When
    const outcomes = await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'dev-1', type: 'sensor' }), 'e-1');

    // Then
    const thing = await describeThing(env.secondary, 'dev-1');
    expect(thing).toMatchObject({ thingTypeName: 'sensor', attributes: { site: 'paris', fw: '1.0' } });
    const replicated = await certInSecondary(cert.pem);
    expect(replicated).toMatchObject({ status: 'ACTIVE', certificatePem: cert.pem });
    expect(await principalsOf('dev-1')).toEqual([replicated?.certificateArn]);
    const policy = await policyInSecondary('device');
    expect(JSON.parse(policy?.policyDocument ?? '{}')).toEqual(JSON.parse(devicePolicyDocument(SECONDARY).replace(/telemetry\/us-west-2/g, 'telemetry/us-east-1')));
    const attached = await env.secondary.iot.send(new ListAttachedPoliciesCommand({ target: replicated?.certificateArn }));
    expect(attached.policies?.map((p) => p.policyName)).toEqual(['device']);
    expect(outcomes).toEqual(
      expect.arrayContaining([
        { kind: 'thingType', name: 'sensor', action: 'created' },
        { kind: 'thing', name: 'dev-1', action: 'created' },
        expect.objectContaining({ kind: 'certificate', action: 'created' }),
        { kind: 'policy', name: 'device', action: 'created' },
      ]),
    );
  });

  it('rewrites the region only inside ARN region segments', () => {
    const doc = '{"Resource":"arn:aws:iot:us-east-1:123456789012:topic/us-east-1/x","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}},"Other":"arn:aws-cn:iot:us-east-1:1:client/a"}';
    expect(rewriteRegionInArns(doc, 'us-east-1', 'us-west-2')).toBe(
      '{"Resource":"arn:aws:iot:us-west-2:123456789012:topic/us-east-1/x","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}},"Other":"arn:aws-cn:iot:us-west-2:1:client/a"}',
    );
  });

  it('replicates attribute removals and type removal on UPDATED', async () => {
    // Given a replicated thing
    await createThingType(env.primary, 'sensor');
    await createThing(env.primary, 'dev-2', { type: 'sensor', attributes: { a: '1', b: '2' } });
    const tctx = twoRegions(moto.endpoint, { mode: 'thing-only' }).ctx;
    await applyEvent(tctx, thingEvent(PRIMARY, 'CREATED', { name: 'dev-2', type: 'sensor' }), 'e-1');
    expect(await describeThing(env.secondary, 'dev-2')).toMatchObject({ thingTypeName: 'sensor', attributes: { a: '1', b: '2' } });

    // When the primary drops attribute b and the type
    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev-2', removeThingType: true, attributePayload: { attributes: { a: '1' }, merge: false } }));
    const outcomes = await applyEvent(tctx, thingEvent(PRIMARY, 'UPDATED', { name: 'dev-2', attributes: { a: '1' }, version: 2 }), 'e-2');

    // Then
    const thing = await describeThing(env.secondary, 'dev-2');
    expect(thing?.attributes).toEqual({ a: '1' });
    expect(thing?.thingTypeName).toBeUndefined();
    expect(outcomes).toEqual([{ kind: 'thing', name: 'dev-2', action: 'updated', detail: 'type, attributes' }]);

    // And clearing every attribute replicates too
    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev-2', attributePayload: { attributes: {}, merge: false } }));
    await applyEvent(tctx, thingEvent(PRIMARY, 'UPDATED', { name: 'dev-2', version: 3 }), 'e-3');
    expect((await describeThing(env.secondary, 'dev-2'))?.attributes ?? {}).toEqual({});
  });

  it('replicates a type association ADDED and REMOVED (registry only)', async () => {
    await createThingType(env.primary, 'lamp');
    await createThing(env.primary, 'dev-3');
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'dev-3', timestamp: Date.now() - 3_600_000 }), 'e-1');

    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev-3', thingTypeName: 'lamp' }));
    await applyEvent(env.ctx, typeAssociationEvent(PRIMARY, 'ADDED', 'dev-3', 'lamp'), 'e-2');
    expect((await describeThing(env.secondary, 'dev-3'))?.thingTypeName).toBe('lamp');

    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev-3', removeThingType: true }));
    await applyEvent(env.ctx, typeAssociationEvent(PRIMARY, 'REMOVED', 'dev-3', 'lamp'), 'e-3');
    expect((await describeThing(env.secondary, 'dev-3'))?.thingTypeName).toBeUndefined();
  });

  it('keeps a certificate shared by two things when one of them is deleted, and deletes it with the second', async () => {
    // Given one certificate on two things, one policy
    await createPolicy(env.primary, 'shared');
    await createThing(env.primary, 'a');
    await createThing(env.primary, 'b');
    const cert = await createCertificate(env.primary);
    await attachPolicy(env.primary, 'shared', cert.arn);
    await attachCertificate(env.primary, 'a', cert.arn);
    await attachCertificate(env.primary, 'b', cert.arn);
    await updateShadow(env.primary, 'a', '', { reported: { on: true } });
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'a' }), 'e-1');
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'b' }), 'e-2');
    const { syncShadow } = await import('../../functions/lib/replication');
    await syncShadow(env.ctx, 'a', '');
    expect(await readShadow(env.secondary, 'a')).toBeDefined();

    // When thing a is deleted in the primary
    await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: 'a', principal: cert.arn }));
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'a' }));
    const first = await applyEvent(env.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'a' }), 'e-3');

    // Then a is gone with its shadow, the certificate and policy stay for b
    expect(await describeThing(env.secondary, 'a')).toBeUndefined();
    expect(await certInSecondary(cert.pem)).toMatchObject({ status: 'ACTIVE' });
    expect(await policyInSecondary('shared')).toBeDefined();
    expect(first).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'certificate', action: 'unchanged' }), { kind: 'thing', name: 'a', action: 'deleted' }]));

    // When b is deleted too (the certificate stays in the primary, unattached)
    await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: 'b', principal: cert.arn }));
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'b' }));
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'b' }), 'e-4');

    // Then the certificate is deactivated and deleted, the policy with it (nothing else attached... but
    // the primary still attaches it to the certificate, so it is kept)
    expect(await certInSecondary(cert.pem)).toBeUndefined();
    expect(await describeThing(env.secondary, 'b')).toBeUndefined();
  });

  it('shares one policy between two certificates and deletes it only with the last one', async () => {
    await createPolicy(env.primary, 'fleet');
    const c1 = await createDevice(env.primary, 'p1', { policy: 'fleet' });
    const c2 = await createDevice(env.primary, 'p2', { policy: 'fleet' });
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'p1' }), 'e-1');
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'p2' }), 'e-2');
    expect((await certInSecondary(c1.pem))?.status).toBe('ACTIVE');
    expect((await certInSecondary(c2.pem))?.status).toBe('ACTIVE');

    // The primary deletes p1 and its certificate entirely
    const { DetachPolicyCommand, DeleteCertificateCommand } = await import('@aws-sdk/client-iot');
    const removeDevice = async (thing: string, cert: { arn: string; id: string }) => {
      await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: thing, principal: cert.arn }));
      await env.primary.iot.send(new DetachPolicyCommand({ policyName: 'fleet', target: cert.arn }));
      await env.primary.iot.send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'INACTIVE' }));
      await env.primary.iot.send(new DeleteCertificateCommand({ certificateId: cert.id }));
      await env.primary.iot.send(new DeleteThingCommand({ thingName: thing }));
    };
    await removeDevice('p1', c1);
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'p1' }), 'e-3');
    expect(await certInSecondary(c1.pem)).toBeUndefined();
    expect(await policyInSecondary('fleet')).toBeDefined();

    await removeDevice('p2', c2);
    const { DeletePolicyCommand } = await import('@aws-sdk/client-iot');
    await env.primary.iot.send(new DeletePolicyCommand({ policyName: 'fleet' }));
    const outcomes = await applyEvent(env.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'p2' }), 'e-4');
    expect(await certInSecondary(c2.pem)).toBeUndefined();
    expect(await policyInSecondary('fleet')).toBeUndefined();
    expect(outcomes).toEqual(expect.arrayContaining([{ kind: 'policy', name: 'fleet', action: 'deleted' }]));
  });

  it('throws RetryableError while a new thing has no certificate yet, then converges once it is attached', async () => {
    // Given a thing created just now, its certificate not attached yet
    await createPolicy(env.primary, 'late');
    await createThing(env.primary, 'late-1');
    const event = thingEvent(PRIMARY, 'CREATED', { name: 'late-1' });

    // When / Then: the first attempt asks for a retry
    await expect(applyEvent(env.ctx, event, 'e-1')).rejects.toBeInstanceOf(RetryableError);
    await expect(applyEvent(env.ctx, event, 'e-1')).rejects.toMatchObject({ name: 'PrincipalPendingError' });

    // When the certificate arrives and the workflow retries the same event
    const cert = await createCertificate(env.primary);
    await attachPolicy(env.primary, 'late', cert.arn);
    await attachCertificate(env.primary, 'late-1', cert.arn);
    await applyEvent(env.ctx, event, 'e-1');

    // Then
    expect(await principalsOf('late-1')).toEqual([(await certInSecondary(cert.pem))?.certificateArn]);

    // And an old event for a thing without principals does not retry (e.g. reconciliation)
    await createThing(env.primary, 'bare');
    await expect(applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'bare', timestamp: Date.now() - 3_600_000 }), 'e-2')).resolves.toBeDefined();
  });

  it('replicates certificate status changes and policy document changes (new default version, at most 5)', async () => {
    await createPolicy(env.primary, 'evolving');
    const cert = await createDevice(env.primary, 'st-1', { policy: 'evolving' });
    await applyEvent(env.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'st-1' }), 'e-1');

    await env.primary.iot.send(new UpdateCertificateCommand({ certificateId: cert.id, newStatus: 'INACTIVE' }));
    for (let i = 0; i < 6; i++) {
      await env.primary.iot.send(
        new CreatePolicyVersionCommand({ policyName: 'evolving', policyDocument: devicePolicyDocument(PRIMARY, `v${i}`), setAsDefault: true }),
      ).catch(async (error) => {
        // moto, like AWS, keeps at most 5 versions: drop the oldest in the primary too
        if ((error as Error).name !== 'VersionsLimitExceededException') throw error;
        const { DeletePolicyVersionCommand } = await import('@aws-sdk/client-iot');
        const versions = await env.primary.iot.send(new ListPolicyVersionsCommand({ policyName: 'evolving' }));
        const oldest = versions.policyVersions?.filter((v) => !v.isDefaultVersion).sort((a, b) => Number(a.versionId) - Number(b.versionId))[0];
        await env.primary.iot.send(new DeletePolicyVersionCommand({ policyName: 'evolving', policyVersionId: oldest?.versionId }));
        await env.primary.iot.send(new CreatePolicyVersionCommand({ policyName: 'evolving', policyDocument: devicePolicyDocument(PRIMARY, `v${i}`), setAsDefault: true }));
      });
      await applyEvent(env.ctx, thingEvent(PRIMARY, 'UPDATED', { name: 'st-1' }), `e-${i + 2}`);
    }

    expect((await certInSecondary(cert.pem))?.status).toBe('INACTIVE');
    const policy = await policyInSecondary('evolving');
    expect(JSON.parse(policy?.policyDocument ?? '{}').Statement[0].Resource).toBe(`arn:aws:iot:${SECONDARY}:123456789012:client/v5`);
    const versions = await env.secondary.iot.send(new ListPolicyVersionsCommand({ policyName: 'evolving' }));
    expect(versions.policyVersions?.length).toBeLessThanOrEqual(5);
  });

  it('replicates 3 certificates, 3 policies on one certificate, and deletes 3 named shadows (page size 1; moto ignores it, see faults.test.ts)', async () => {
    // Given
    const paged = twoRegions(moto.endpoint, { pageSize: 1 });
    await createThing(env.primary, 'multi');
    const certs = [];
    for (let i = 0; i < 3; i++) {
      const cert = await createCertificate(env.primary);
      await createPolicy(env.primary, `pol-${i}`);
      await attachPolicy(env.primary, `pol-${i}`, certs.length ? certs[0].arn : cert.arn);
      await attachCertificate(env.primary, 'multi', cert.arn);
      certs.push(cert);
    }
    for (const name of ['s1', 's2', 's3']) await updateShadow(env.primary, 'multi', name, { reported: { name } });
    const { syncShadow } = await import('../../functions/lib/replication');

    // When
    await applyEvent(paged.ctx, thingEvent(PRIMARY, 'CREATED', { name: 'multi' }), 'e-1');

    for (const name of ['s1', 's2', 's3']) await syncShadow(paged.ctx, 'multi', name);

    // Then
    expect((await principalsOf('multi')).length).toBe(3);
    const first = await certInSecondary(certs[0].pem);
    const attached = await env.secondary.iot.send(new ListAttachedPoliciesCommand({ target: first?.certificateArn }));
    expect(attached.policies?.map((p) => p.policyName).sort()).toEqual(['pol-0', 'pol-1', 'pol-2']);

    // When the thing is deleted, every named shadow goes (listed one per page)
    for (const cert of certs) await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: 'multi', principal: cert.arn }));
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'multi' }));
    const outcomes = await applyEvent(paged.ctx, thingEvent(PRIMARY, 'DELETED', { name: 'multi' }), 'e-2');
    expect(outcomes.filter((o) => o.kind === 'shadow' && o.action === 'deleted').map((o) => o.name).sort()).toEqual(['multi/s1', 'multi/s2', 'multi/s3']);
    expect(await describeThing(env.secondary, 'multi')).toBeUndefined();
  });

  it('copies the registry only in thing-only mode', async () => {
    await createPolicy(env.primary, 'p');
    const cert = await createDevice(env.primary, 'only', { policy: 'p', attributes: { k: 'v' } });
    const { ctx } = twoRegions(moto.endpoint, { mode: 'thing-only' });
    await applyEvent(ctx, thingEvent(PRIMARY, 'CREATED', { name: 'only' }), 'e-1');
    expect(await describeThing(env.secondary, 'only')).toMatchObject({ attributes: { k: 'v' } });
    expect(await certInSecondary(cert.pem)).toBeUndefined();
    expect(await principalsOf('only')).toEqual([]);
  });
});
