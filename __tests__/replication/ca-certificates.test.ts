// CA certificates (issue 12, item 4: provisioning readiness) against moto: syncCaCertificate
// registers the primary's CA in the secondary with the same PEM (same id), status and
// registration config (JITP template, region rewritten inside ARNs), updates it and deletes it.
// moto differs from AWS: it has no ListCACertificates, ignores certificateMode and the
// auto-registration status (so those are not asserted here), and has no provisioning templates.
import {
  DeleteCACertificateCommand,
  DescribeCACertificateCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot';
import { syncCaCertificate } from '../../functions/lib/replication';
import { createCertificate, PRIMARY, SECONDARY, twoRegions } from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';

let moto: Moto;
let env: ReturnType<typeof twoRegions>;

beforeAll(async () => {
  moto = await startMoto();
  env = twoRegions(moto.endpoint);
});
afterAll(() => moto?.stop());
beforeEach(() => moto.reset());

const template = (region: string) =>
  JSON.stringify({
    Resources: {
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: `{"Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:${region}:123456789012:client/*"}]}` } },
    },
  });

const describeCa = async (side: typeof env.primary, certificateId: string) => {
  try {
    return await side.iot.send(new DescribeCACertificateCommand({ certificateId }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
};

describe('CA certificates', () => {
  it('registers, updates and deletes the secondary copy of a CA with its JITP registration config', async () => {
    // Given a CA in the primary, active, with a registration config naming a primary-region ARN
    const { pem } = await createCertificate(env.primary);
    const roleArn = 'arn:aws:iam::123456789012:role/jitp';
    const { certificateId } = await env.primary.iot.send(
      new RegisterCACertificateCommand({ caCertificate: pem, setAsActive: true, registrationConfig: { templateBody: template(PRIMARY), roleArn } }),
    );
    const id = certificateId as string;

    // When synced twice
    const first = await syncCaCertificate(env.ctx, id);
    const second = await syncCaCertificate(env.ctx, id);

    // Then the secondary holds the same CA (same id from the same PEM), active, with the template rewritten
    expect(first).toEqual([expect.objectContaining({ kind: 'certificate', name: `ca/${id}`, action: 'created' })]);
    expect(second).toEqual([expect.objectContaining({ action: 'unchanged' })]);
    const copy = await describeCa(env.secondary, id);
    expect(copy?.certificateDescription).toMatchObject({ certificatePem: pem, status: 'ACTIVE' });
    expect(copy?.registrationConfig).toEqual({ templateBody: template(SECONDARY), roleArn });

    // When the primary deactivates it and changes the template, Then the secondary follows
    await env.primary.iot.send(
      new UpdateCACertificateCommand({ certificateId: id, newStatus: 'INACTIVE', registrationConfig: { templateBody: '{"Resources":{}}', roleArn } }),
    );
    expect(await syncCaCertificate(env.ctx, id)).toEqual([
      expect.objectContaining({ action: 'updated', detail: 'CA certificate: status, registration config' }),
    ]);
    expect((await describeCa(env.secondary, id))?.certificateDescription?.status).toBe('INACTIVE');
    expect((await describeCa(env.secondary, id))?.registrationConfig?.templateBody).toBe('{"Resources":{}}');

    // When the primary deletes it, Then the secondary's copy is deleted too
    await env.primary.iot.send(new DeleteCACertificateCommand({ certificateId: id }));
    expect(await syncCaCertificate(env.ctx, id)).toEqual([expect.objectContaining({ action: 'deleted' })]);
    expect(await describeCa(env.secondary, id)).toBeUndefined();
    expect(await syncCaCertificate(env.ctx, id)).toEqual([expect.objectContaining({ action: 'unchanged' })]);
  });
});
