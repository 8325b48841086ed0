import {
  CreateProvisioningTemplateCommand,
  CreateProvisioningTemplateVersionCommand,
  DeleteProvisioningTemplateCommand,
  DeleteProvisioningTemplateVersionCommand,
  DescribeProvisioningTemplateCommand,
  paginateListProvisioningTemplateVersions,
  UpdateProvisioningTemplateCommand,
  type DescribeProvisioningTemplateCommandOutput,
  type ProvisioningHook,
} from '@aws-sdk/client-iot';
import { awsErrorName } from '../aws';
import { all, call, find, jsonEqual } from './call';
import type { Outcome, ReplicationContext } from './context';
import { rewriteRegionInArns } from './policies';

async function describe(ctx: ReplicationContext, side: 'origin' | 'target', templateName: string) {
  return find(ctx, `DescribeProvisioningTemplate ${templateName} (${side})`, () =>
    ctx[side].iot.send(new DescribeProvisioningTemplateCommand({ templateName })),
  );
}

/** The secondary's version of a template's parts: the region rewritten inside every ARN. */
interface Wanted {
  readonly body: string;
  readonly roleArn: string;
  readonly hook?: ProvisioningHook;
  readonly description: string;
  readonly enabled: boolean;
  readonly type: 'FLEET_PROVISIONING' | 'JITP';
}

function wanted(ctx: ReplicationContext, source: DescribeProvisioningTemplateCommandOutput): Wanted {
  const rewrite = (text: string) => rewriteRegionInArns(text, ctx.originRegion, ctx.targetRegion);
  return {
    body: rewrite(source.templateBody ?? '{}'),
    roleArn: rewrite(source.provisioningRoleArn ?? ''),
    ...(source.preProvisioningHook?.targetArn
      ? {
          hook: {
            targetArn: rewrite(source.preProvisioningHook.targetArn),
            ...(source.preProvisioningHook.payloadVersion ? { payloadVersion: source.preProvisioningHook.payloadVersion } : {}),
          },
        }
      : {}),
    description: source.description ?? '',
    enabled: source.enabled ?? false,
    type: source.type === 'JITP' ? 'JITP' : 'FLEET_PROVISIONING',
  };
}

const parsed = (text: string | undefined) => {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return text;
  }
};

/** Makes room for one more version: deletes the oldest non-default version (AWS keeps at most 5). */
async function dropOldestVersion(ctx: ReplicationContext, templateName: string): Promise<void> {
  const versions = await all(
    ctx,
    `ListProvisioningTemplateVersions ${templateName}`,
    paginateListProvisioningTemplateVersions({ client: ctx.target.iot }, { templateName }),
    (page) => page.versions,
  );
  const oldest = versions.filter((v) => !v.isDefaultVersion && v.versionId !== undefined).sort((a, b) => (a.versionId ?? 0) - (b.versionId ?? 0))[0];
  if (!oldest) return;
  await call(ctx, `DeleteProvisioningTemplateVersion ${templateName} ${oldest.versionId}`, () =>
    ctx.target.iot.send(new DeleteProvisioningTemplateVersionCommand({ templateName, versionId: oldest.versionId })),
  );
}

/**
 * Makes the secondary's provisioning template `templateName` (fleet provisioning or JITP) match
 * the primary's: body (as a new default version; the oldest version is dropped when the template
 * already has the 5 AWS allows), provisioning role, pre-provisioning hook, enabled, description
 * and type, with the region rewritten inside every ARN (the hook's Lambda must exist in the
 * secondary under the same name: the customer deploys it). The type cannot be changed in place:
 * the template is deleted and recreated. Deleted from the secondary when the primary no longer
 * has it. Creating or updating the role needs `iam:PassRole` on it.
 * https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplate.html
 * https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateProvisioningTemplate.html
 * https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html
 */
export async function syncProvisioningTemplate(ctx: ReplicationContext, templateName: string): Promise<Outcome> {
  const name = templateName;
  const source = await describe(ctx, 'origin', templateName);
  const target = await describe(ctx, 'target', templateName);
  if (!source) {
    if (!target) return { kind: 'provisioningTemplate', name, action: 'unchanged', detail: 'absent in both regions' };
    await find(ctx, `DeleteProvisioningTemplate ${templateName}`, () => ctx.target.iot.send(new DeleteProvisioningTemplateCommand({ templateName })));
    return { kind: 'provisioningTemplate', name, action: 'deleted' };
  }
  const want = wanted(ctx, source);
  const create = () =>
    call(ctx, `CreateProvisioningTemplate ${templateName}`, () =>
      ctx.target.iot.send(
        new CreateProvisioningTemplateCommand({
          templateName,
          templateBody: want.body,
          provisioningRoleArn: want.roleArn,
          enabled: want.enabled,
          type: want.type,
          ...(want.description ? { description: want.description } : {}),
          ...(want.hook ? { preProvisioningHook: want.hook } : {}),
        }),
      ),
    );
  if (!target) {
    await create();
    return { kind: 'provisioningTemplate', name, action: 'created', detail: want.type };
  }
  if ((target.type === 'JITP' ? 'JITP' : 'FLEET_PROVISIONING') !== want.type) {
    await call(ctx, `DeleteProvisioningTemplate ${templateName}`, () => ctx.target.iot.send(new DeleteProvisioningTemplateCommand({ templateName })));
    await create();
    return { kind: 'provisioningTemplate', name, action: 'updated', detail: `recreated as ${want.type}` };
  }
  const changes: string[] = [];
  if (!jsonEqual(parsed(want.body), parsed(target.templateBody))) {
    changes.push('body');
    const addVersion = () =>
      ctx.target.iot.send(new CreateProvisioningTemplateVersionCommand({ templateName, templateBody: want.body, setAsDefault: true }));
    try {
      await addVersion();
    } catch (error) {
      if (awsErrorName(error) !== 'VersionsLimitExceededException') return call(ctx, `CreateProvisioningTemplateVersion ${templateName}`, () => Promise.reject(error));
      await dropOldestVersion(ctx, templateName);
      await call(ctx, `CreateProvisioningTemplateVersion ${templateName}`, addVersion);
    }
  }
  const hookDiffers = (want.hook?.targetArn ?? '') !== (target.preProvisioningHook?.targetArn ?? '') ||
    (want.hook?.payloadVersion ?? '') !== (target.preProvisioningHook?.payloadVersion ?? '');
  const update = {
    ...(want.description !== (target.description ?? '') ? { description: want.description } : {}),
    ...(want.enabled !== (target.enabled ?? false) ? { enabled: want.enabled } : {}),
    ...(want.roleArn !== (target.provisioningRoleArn ?? '') ? { provisioningRoleArn: want.roleArn } : {}),
    ...(hookDiffers ? (want.hook ? { preProvisioningHook: want.hook } : { removePreProvisioningHook: true }) : {}),
  };
  const labels: Record<string, string> = {
    description: 'description',
    enabled: 'enabled',
    provisioningRoleArn: 'role',
    preProvisioningHook: 'pre-provisioning hook',
    removePreProvisioningHook: 'pre-provisioning hook',
  };
  if (Object.keys(update).length) {
    changes.push(...Object.keys(update).map((k) => labels[k]));
    await call(ctx, `UpdateProvisioningTemplate ${templateName}`, () =>
      ctx.target.iot.send(new UpdateProvisioningTemplateCommand({ templateName, ...update })),
    );
  }
  if (!changes.length) return { kind: 'provisioningTemplate', name, action: 'unchanged' };
  return { kind: 'provisioningTemplate', name, action: 'updated', detail: changes.join(', ') };
}
