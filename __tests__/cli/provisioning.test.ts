// Provisioning readiness (issue 12, item 4): CA certificates, provisioning templates and claim
// certificates copied by `iot-dr copy`, compared by `iot-dr verify`, repaired by reconciliation.
//
// moto (5.2.5) has no ListCACertificates and no provisioning-template API at all. These tests run
// through the loopback proxy in front of moto (cli/quota-proxy.ts, quotas off), which answers
// those operations from OUR EMULATION of AWS's documented API (cli/iot-emulation.ts): request and
// response shapes, status codes and error types from the AWS IoT API reference. It is not AWS:
// template bodies are only checked to be JSON objects and no IAM role is checked. moto also
// ignores a CA's certificateMode and auto-registration status, so those are not asserted.
import { join } from 'node:path';
import {
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteCACertificateCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeProvisioningTemplateCommand,
  DetachPolicyCommand,
  IoTClient,
  ListCACertificatesCommand,
  ListProvisioningTemplatesCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
  UpdateProvisioningTemplateCommand,
} from '@aws-sdk/client-iot';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import type { CopySummary } from '../../cli/commands/copy';
import type { VerifyReport } from '../../cli/commands/verify';
import { startQuotaProxy, type QuotaProxy } from '../../cli/quota-proxy';
import { reconcile } from '../../functions/lib/fleet';
import { createContext } from '../../functions/lib/replication';
import { attachPolicy, createCertificate, createDevice, createPolicy, type Side } from '../support/fleet';
import { FAKE_CREDENTIALS, motoClient, startMoto, type Moto } from '../support/moto';
import { cli, parseJson, PRIMARY, SECONDARY, scratchDir, sides, useFakeCredentials } from './helpers';

let moto: Moto;
let proxy: QuotaProxy;

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  proxy = await startQuotaProxy({ upstream: moto.endpoint, enforceQuotas: false });
});
afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  proxy.reset();
});

const client = (region: string) => new IoTClient({ region, endpoint: proxy.endpoint, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 1 });
const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
};

const ACCOUNT = '123456789012';
const body = (region: string) =>
  JSON.stringify({
    Parameters: { SerialNumber: { Type: 'String' } },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'SerialNumber' } } },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'device' } },
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
      note: { Type: 'AWS::IoT::Thing', OverrideSettings: {}, Properties: { AttributePayload: { topic: `arn:aws:iot:${region}:${ACCOUNT}:topic/x` } } },
    },
  });
const claimPolicy = (region: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `arn:aws:iot:${region}:${ACCOUNT}:client/*` },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: [
          `arn:aws:iot:${region}:${ACCOUNT}:topic/$aws/certificates/create/*`,
          `arn:aws:iot:${region}:${ACCOUNT}:topic/$aws/provisioning-templates/factory/provision/*`,
        ],
      },
    ],
  });
const ROLE = `arn:aws:iam::${ACCOUNT}:role/provisioning`;

describe('emulation of the IoT APIs moto lacks (our emulation of the documented API)', () => {
  it('provisioning templates: create, describe, list by pages, update, versions, and the documented errors', async () => {
    const iot = client(PRIMARY);
    // Given a fleet-provisioning template with a pre-provisioning hook
    const created = await iot.send(
      new CreateProvisioningTemplateCommand({
        templateName: 'factory',
        templateBody: body(PRIMARY),
        provisioningRoleArn: ROLE,
        enabled: true,
        preProvisioningHook: { targetArn: `arn:aws:lambda:${PRIMARY}:${ACCOUNT}:function:hook` },
      }),
    );
    expect(created).toMatchObject({ templateName: 'factory', defaultVersionId: 1, templateArn: `arn:aws:iot:${PRIMARY}:${ACCOUNT}:provisioningtemplate/factory` });
    await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'jitp', templateBody: body(PRIMARY), provisioningRoleArn: ROLE, type: 'JITP' }));

    // Then it is described with every field, listed page by page, and per region
    expect(await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'factory' }))).toMatchObject({
      templateBody: body(PRIMARY),
      enabled: true,
      type: 'FLEET_PROVISIONING',
      provisioningRoleArn: ROLE,
      preProvisioningHook: { targetArn: `arn:aws:lambda:${PRIMARY}:${ACCOUNT}:function:hook` },
      creationDate: expect.any(Date),
    });
    const first = await iot.send(new ListProvisioningTemplatesCommand({ maxResults: 1 }));
    expect(first.templates?.map((t) => t.templateName)).toEqual(['factory']);
    const second = await iot.send(new ListProvisioningTemplatesCommand({ maxResults: 1, nextToken: first.nextToken }));
    expect(second.templates).toEqual([expect.objectContaining({ templateName: 'jitp', type: 'JITP', enabled: false })]);
    expect(second.nextToken).toBeUndefined();
    expect((await client(SECONDARY).send(new ListProvisioningTemplatesCommand({}))).templates).toEqual([]);

    // And the documented errors: 409 exists, 404 unknown, 400 bad name, hook on JITP, 5 versions at most
    expect(await failure(iot.send(new CreateProvisioningTemplateCommand({ templateName: 'factory', templateBody: '{}', provisioningRoleArn: ROLE })))).toEqual({
      name: 'ResourceAlreadyExistsException',
      status: 409,
    });
    expect(await failure(iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'nope' })))).toEqual({ name: 'ResourceNotFoundException', status: 404 });
    expect(await failure(iot.send(new CreateProvisioningTemplateCommand({ templateName: 'bad name', templateBody: '{}', provisioningRoleArn: ROLE })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
    });
    expect(
      await failure(iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'jitp', preProvisioningHook: { targetArn: 'arn:aws:lambda:x:1:function:f' } }))),
    ).toEqual({ name: 'InvalidRequestException', status: 400 });
    for (let i = 0; i < 4; i++) await iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'factory', templateBody: '{"Resources":{}}', setAsDefault: i === 3 }));
    expect(await failure(iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'factory', templateBody: '{}' })))).toEqual({
      name: 'VersionsLimitExceededException',
      status: 409,
    });
    expect(await failure(iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName: 'factory', versionId: 5 })))).toEqual({
      name: 'DeleteConflictException',
      status: 409,
    });
    await iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'factory', enabled: false, removePreProvisioningHook: true }));
    const updated = await iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'factory' }));
    expect(updated).toMatchObject({ enabled: false, defaultVersionId: 5, templateBody: '{"Resources":{}}' });
    expect(updated.preProvisioningHook).toBeUndefined();
  });

  it('ListCACertificates lists the CA certificates moto holds in that region, by pages, without the deleted ones', async () => {
    // Given two CAs registered in the primary through the proxy, one deleted again
    const iot = client(PRIMARY);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { pem } = await createCertificate(sides(proxy.endpoint).primary);
      ids.push((await iot.send(new RegisterCACertificateCommand({ caCertificate: pem, setAsActive: true }))).certificateId as string);
    }
    await iot.send(new UpdateCACertificateCommand({ certificateId: ids[2], newStatus: 'INACTIVE' }));
    await iot.send(new DeleteCACertificateCommand({ certificateId: ids[2] }));
    // When listed one per page
    const first = await iot.send(new ListCACertificatesCommand({ pageSize: 1, ascendingOrder: true }));
    const second = await iot.send(new ListCACertificatesCommand({ pageSize: 1, ascendingOrder: true, marker: first.nextMarker }));
    // Then both remaining CAs appear once with moto's status, and none in the other region
    expect([...(first.certificates ?? []), ...(second.certificates ?? [])].map((c) => c.certificateId).sort()).toEqual(ids.slice(0, 2).sort());
    expect(first.certificates?.[0]).toMatchObject({ status: 'ACTIVE', certificateArn: expect.stringContaining(':cacert/') });
    expect(second.nextMarker).toBeUndefined();
    expect((await client(SECONDARY).send(new ListCACertificatesCommand({}))).certificates).toEqual([]);
  });
});

/** The primary's provisioning setup: a JITP CA, a JITP template, a fleet-provisioning template with a hook, a claim certificate. */
async function seedProvisioning(primary: Side) {
  const iot = primary.iot;
  await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'jitp', templateBody: body(PRIMARY), provisioningRoleArn: ROLE, type: 'JITP', enabled: true }));
  await iot.send(
    new CreateProvisioningTemplateCommand({
      templateName: 'factory',
      description: 'fleet provisioning by claim',
      templateBody: body(PRIMARY),
      provisioningRoleArn: ROLE,
      enabled: true,
      preProvisioningHook: { targetArn: `arn:aws:lambda:${PRIMARY}:${ACCOUNT}:function:hook`, payloadVersion: '2020-04-01' },
    }),
  );
  const ca = await createCertificate(primary);
  const { certificateId } = await iot.send(
    new RegisterCACertificateCommand({ caCertificate: ca.pem, setAsActive: true, allowAutoRegistration: true, registrationConfig: { templateName: 'jitp' } }),
  );
  await createPolicy(primary, 'claim', claimPolicy(PRIMARY));
  const claim = await createCertificate(primary);
  await attachPolicy(primary, 'claim', claim.arn);
  await createPolicy(primary, 'device');
  await createDevice(primary, 'dev-1', { policy: 'device' });
  return { caId: certificateId as string, claim };
}

describe.each(['complete', 'thing-only'] as const)('provisioning readiness in %s mode', (mode) => {
  it('copy brings CA certificates, templates and claim certificates; verify names each injected drift; reconciliation repairs it', async () => {
    // Given the primary's provisioning setup
    const { primary, secondary } = sides(proxy.endpoint);
    const { caId, claim } = await seedProvisioning(primary);
    const scratch = scratchDir();
    const env = { ...process.env, IOT_DR_CONFIG: '', IOT_DR_REPLICATION_MODE: mode };
    const common = ['--endpoint', proxy.endpoint];
    try {
      // When copied
      const copy = await cli(['copy', ...common, '--json', '--checkpoint', join(scratch.dir, 'cp.json')], { cwd: scratch.dir, env });
      const summary = parseJson<CopySummary>(copy.stdout);
      expect(summary.failures).toEqual([]);
      expect(copy.code).toBe(0);
      expect(summary.outcomes.provisioningTemplate).toEqual({ created: 2 });

      // Then the secondary has the templates with ARNs in its region, the CA, the claim certificate, and verify matches
      expect(await secondary.iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'factory' }))).toMatchObject({
        templateBody: body(SECONDARY),
        provisioningRoleArn: ROLE,
        enabled: true,
        description: 'fleet provisioning by claim',
        preProvisioningHook: { targetArn: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:hook`, payloadVersion: '2020-04-01' },
      });
      expect((await secondary.iot.send(new ListCACertificatesCommand({}))).certificates?.map((c) => c.certificateId)).toEqual([caId]);
      const verify = await cli(['verify', ...common, '--json'], { cwd: scratch.dir, env });
      const report = parseJson<VerifyReport>(verify.stdout);
      expect(report.differences).toEqual([]);
      expect(report.counts.primary).toMatchObject({ caCertificates: 1, provisioningTemplates: 2, claimCertificates: 1 });
      expect(report.counts.secondary).toMatchObject({ caCertificates: 1, provisioningTemplates: 2, claimCertificates: 1 });
      expect(verify.code).toBe(0);
      // And a sampled verify reads every provisioning resource too, and matches
      const sampledClean = parseJson<VerifyReport>((await cli(['verify', ...common, '--json', '--sample', '1'], { cwd: scratch.dir, env })).stdout);
      expect(sampledClean).toMatchObject({ match: true, sample: { size: 1 } });
      expect(sampledClean.counts.secondary).toMatchObject({ caCertificates: 1, provisioningTemplates: 2, claimCertificates: 1 });

      // When the secondary drifts: a template disabled, another with a new body, one extra, the CA deactivated, the claim policy detached
      await secondary.iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'factory', enabled: false }));
      await secondary.iot.send(new CreateProvisioningTemplateVersionCommand({ templateName: 'jitp', templateBody: '{"Resources":{}}', setAsDefault: true }));
      await secondary.iot.send(new CreateProvisioningTemplateCommand({ templateName: 'stray', templateBody: '{}', provisioningRoleArn: ROLE }));
      await secondary.iot.send(new UpdateCACertificateCommand({ certificateId: caId, newStatus: 'INACTIVE' }));
      await secondary.iot.send(new DetachPolicyCommand({ policyName: 'claim', target: claim.arn.replace(PRIMARY, SECONDARY) }));

      // Then verify names each difference
      const drifted = await cli(['verify', ...common, '--json'], { cwd: scratch.dir, env });
      expect(drifted.code).toBe(4);
      const details = parseJson<VerifyReport>(drifted.stdout).differences.map((d) => `${d.kind} ${d.resource} ${d.name}: ${d.detail}`);
      expect(details).toEqual(
        expect.arrayContaining([
          `provisioning provisioningTemplate factory: provisioning template factory: enabled true in primary, false in secondary`,
          `provisioning provisioningTemplate jitp: provisioning template jitp: template body differs`,
          `extra provisioningTemplate stray: provisioning template stray exists only in secondary`,
          `provisioning caCertificate ${caId}: CA certificate ${caId}: status ACTIVE in primary, INACTIVE in secondary`,
        ]),
      );
      // A claim certificate without its policy in the secondary is attached to nothing at all there
      expect(details).toContainEqual(expect.stringMatching(new RegExp(`^missing claimCertificate ${claim.id}: claim certificate ${claim.id} \\(policies claim\\) missing`)));
      // And a sampled verify (one thing in depth) names the same provisioning differences: those are never sampled
      const sampled = await cli(['verify', ...common, '--json', '--sample', '1'], { cwd: scratch.dir, env });
      expect(sampled.code).toBe(4);
      const provisioningOf = (r: VerifyReport) =>
        r.differences.filter((d) => ['caCertificate', 'provisioningTemplate', 'claimCertificate'].includes(d.resource)).map((d) => `${d.kind} ${d.resource} ${d.name}: ${d.detail}`);
      const sampledReport = parseJson<VerifyReport>(sampled.stdout);
      expect(sampledReport.sample).toMatchObject({ size: 1 });
      expect(provisioningOf(sampledReport)).toHaveLength(5);
      expect(provisioningOf(sampledReport)).toEqual(provisioningOf(parseJson<VerifyReport>(drifted.stdout)));

      // When reconciliation runs once
      const ctx = createContext({
        originRegion: PRIMARY,
        targetRegion: SECONDARY,
        mode,
        endpoint: proxy.endpoint,
        credentials: { ...FAKE_CREDENTIALS },
        logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
      });
      const result = await reconcile({ ctx, ssm: motoClient(SSMClient, proxy.endpoint, SECONDARY), cursorParameter: '/iot-dr/cursor', thingsPerRun: 10 });
      expect(result.repairErrors).toEqual([]);
      expect(result.differences.filter((d) => d.resource === 'provisioningTemplate').map((d) => d.name).sort()).toEqual(['factory', 'jitp', 'stray']);

      // Then verify matches again
      const repaired = await cli(['verify', ...common, '--json'], { cwd: scratch.dir, env });
      expect(parseJson<VerifyReport>(repaired.stdout).differences).toEqual([]);
      expect(repaired.code).toBe(0);

      // And copy never deletes: a template only the secondary has survives a copy (reconciliation removes it)
      await secondary.iot.send(new CreateProvisioningTemplateCommand({ templateName: 'local', templateBody: '{}', provisioningRoleArn: ROLE }));
      const again = await cli(['copy', ...common, '--json', '--checkpoint', join(scratch.dir, 'cp2.json')], { cwd: scratch.dir, env });
      expect(again.code).toBe(0);
      expect(parseJson<CopySummary>(again.stdout).outcomes.provisioningTemplate).toEqual({ unchanged: 2 });
      expect(await secondary.iot.send(new DescribeProvisioningTemplateCommand({ templateName: 'local' }))).toMatchObject({ templateName: 'local' });
    } finally {
      scratch.cleanup();
    }
  }, 180_000);
});

describe('without the emulation (bare moto)', () => {
  it('verify reports CA certificates and provisioning templates as not compared instead of failing', async () => {
    // Given moto alone, which answers ListCACertificates with an HTML 500 page (AWS never does)
    const scratch = scratchDir();
    try {
      const verify = await cli(['verify', '--endpoint', moto.endpoint, '--json'], { cwd: scratch.dir });
      const report = parseJson<VerifyReport>(verify.stdout);
      expect(report.notCompared).toEqual([
        'CA certificates (the endpoint does not implement ListCACertificates)',
        'provisioning templates (the endpoint does not implement ListProvisioningTemplates)',
      ]);
      expect(verify.code).toBe(0);
    } finally {
      scratch.cleanup();
    }
  }, 60_000);
});
