import {
  DeleteCACertificateCommand,
  DescribeCACertificateCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
  type DescribeCACertificateCommandOutput,
  type RegistrationConfig,
} from '@aws-sdk/client-iot';
import { call, find } from './call';
import type { Outcome, ReplicationContext } from './context';
import { rewriteRegionInArns } from './policies';

async function describeCa(ctx: ReplicationContext, side: 'origin' | 'target', certificateId: string) {
  return find(ctx, `DescribeCACertificate ${certificateId} (${side})`, () =>
    ctx[side].iot.send(new DescribeCACertificateCommand({ certificateId })),
  );
}

/** The primary's registration config (JITP template) for the secondary: the region rewritten inside ARNs. */
function rewrittenConfig(ctx: ReplicationContext, config: RegistrationConfig | undefined): RegistrationConfig | undefined {
  if (!config || (!config.templateBody && !config.roleArn && !config.templateName)) return undefined;
  const rewrite = (text: string | undefined) => (text ? rewriteRegionInArns(text, ctx.originRegion, ctx.targetRegion) : undefined);
  return {
    ...(config.templateBody ? { templateBody: rewrite(config.templateBody) } : {}),
    ...(config.roleArn ? { roleArn: rewrite(config.roleArn) } : {}),
    ...(config.templateName ? { templateName: config.templateName } : {}),
  };
}

const sameConfig = (a: RegistrationConfig | undefined, b: RegistrationConfig | undefined) =>
  (a?.templateBody ?? '') === (b?.templateBody ?? '') && (a?.roleArn ?? '') === (b?.roleArn ?? '') && (a?.templateName ?? '') === (b?.templateName ?? '');

const status = (d: DescribeCACertificateCommandOutput) => d.certificateDescription?.status ?? 'INACTIVE';
const autoRegistration = (d: DescribeCACertificateCommandOutput) => d.certificateDescription?.autoRegistrationStatus ?? 'DISABLE';

/**
 * Makes the secondary's CA certificate `certificateId` match the primary's: same PEM (so the same
 * id), status, auto-registration and registration config (the just-in-time provisioning template
 * and its role, region rewritten inside ARNs). Devices whose certificates this CA signed can then
 * register themselves in the secondary (JITR/JITP) during a failover.
 *
 * The CA is registered in `SNI_ONLY` mode: `DEFAULT` mode needs a verification certificate signed
 * with the CA's private key, which iot-dr never holds (and `DEFAULT` allows one account per region
 * per CA). Devices must then send SNI, as they must for the device certificates iot-dr registers
 * without a CA. Deleted from the secondary (deactivated first, as AWS requires) when the primary
 * no longer has it.
 * https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCACertificate.html
 * https://docs.aws.amazon.com/iot/latest/developerguide/manage-your-CA-certs.html
 */
export async function syncCaCertificate(ctx: ReplicationContext, certificateId: string): Promise<Outcome[]> {
  const name = `ca/${certificateId}`;
  const source = await describeCa(ctx, 'origin', certificateId);
  const target = await describeCa(ctx, 'target', certificateId);
  if (!source?.certificateDescription?.certificatePem) {
    if (!target) return [{ kind: 'certificate', name, action: 'unchanged', detail: 'CA certificate absent in both regions' }];
    if (status(target) === 'ACTIVE') {
      await call(ctx, `UpdateCACertificate ${certificateId}`, () =>
        ctx.target.iot.send(new UpdateCACertificateCommand({ certificateId, newStatus: 'INACTIVE' })),
      );
    }
    await find(ctx, `DeleteCACertificate ${certificateId}`, () => ctx.target.iot.send(new DeleteCACertificateCommand({ certificateId })));
    return [{ kind: 'certificate', name, action: 'deleted', detail: 'CA certificate' }];
  }
  const config = rewrittenConfig(ctx, source.registrationConfig);
  if (!target) {
    await call(ctx, `RegisterCACertificate ${certificateId}`, () =>
      ctx.target.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: source.certificateDescription?.certificatePem,
          certificateMode: 'SNI_ONLY',
          setAsActive: status(source) === 'ACTIVE',
          allowAutoRegistration: autoRegistration(source) === 'ENABLE',
          ...(config ? { registrationConfig: config } : {}),
        }),
      ),
    );
    return [{ kind: 'certificate', name, action: 'created', detail: 'CA certificate (SNI_ONLY)' }];
  }
  const changes = [
    status(source) !== status(target) ? 'status' : '',
    autoRegistration(source) !== autoRegistration(target) ? 'auto-registration' : '',
    // A config removed in the primary is left in place: UpdateCACertificate can only replace one.
    config && !sameConfig(config, target.registrationConfig) ? 'registration config' : '',
  ].filter(Boolean);
  if (!changes.length) return [{ kind: 'certificate', name, action: 'unchanged', detail: 'CA certificate' }];
  await call(ctx, `UpdateCACertificate ${certificateId}`, () =>
    ctx.target.iot.send(
      new UpdateCACertificateCommand({
        certificateId,
        ...(changes.includes('status') ? { newStatus: status(source) === 'ACTIVE' ? 'ACTIVE' : 'INACTIVE' } : {}),
        ...(changes.includes('auto-registration') ? { newAutoRegistrationStatus: autoRegistration(source) === 'ENABLE' ? 'ENABLE' : 'DISABLE' } : {}),
        ...(changes.includes('registration config') ? { registrationConfig: config } : {}),
      }),
    ),
  );
  return [{ kind: 'certificate', name, action: 'updated', detail: `CA certificate: ${changes.join(', ')}` }];
}
