import {
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  GetPolicyCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
  paginateListTargetsForPolicy,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { call, find, findAll, jsonEqual } from './call';
import type { Outcome, ReplicationContext } from './context';

/** AWS keeps at most five versions of a policy. */
const MAX_POLICY_VERSIONS = 5;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewrites the region segment of every ARN in a policy document from `from` to `to`:
 * `arn:<partition>:<service>:<from>:` becomes `arn:<partition>:<service>:<to>:`. Free text that
 * merely contains the region name (a topic called `us-east-1/alerts`, a condition value) is
 * left alone, unlike the reference's blind string replace.
 */
export function rewriteRegionInArns(document: string, from: string, to: string): string {
  const pattern = new RegExp(`(arn:aws[a-z-]*:[a-z0-9-]+:)${escapeRegExp(from)}(:)`, 'g');
  return document.replace(pattern, `$1${to}$2`);
}

function parsed(document: string | undefined): unknown {
  try {
    return JSON.parse(document ?? 'null');
  } catch {
    return document;
  }
}

/**
 * Makes the secondary's policy `name` match the primary's default version (region rewritten
 * inside ARNs): created when missing, a new default version when the document differs (the
 * oldest non-default versions pruned to stay within AWS's five-version limit). A policy missing
 * in the primary is left alone here (`cleanupPolicy` handles deletion).
 */
/** Errors that mean another writer changed the policy's versions between our read and write. */
const POLICY_RACES = new Set(['VersionsLimitExceededException', 'DeleteConflictException', 'VersionConflictException']);
/** Re-reads after a race before the error goes back to the workflow's retry. */
const MAX_POLICY_ROUNDS = 3;

export async function syncPolicy(ctx: ReplicationContext, name: string, round = 0): Promise<Outcome> {
  const source = await find(ctx, `GetPolicy ${name} (primary)`, () => ctx.origin.iot.send(new GetPolicyCommand({ policyName: name })));
  if (!source?.policyDocument) return { kind: 'policy', name, action: 'skipped', detail: 'absent in the primary' };
  const document = rewriteRegionInArns(source.policyDocument, ctx.originRegion, ctx.targetRegion);

  const target = await find(ctx, `GetPolicy ${name}`, () => ctx.target.iot.send(new GetPolicyCommand({ policyName: name })));
  if (!target) {
    try {
      await ctx.target.iot.send(new CreatePolicyCommand({ policyName: name, policyDocument: document }));
      return { kind: 'policy', name, action: 'created' };
    } catch (error) {
      // A concurrent execution created it first: fall through to the comparison.
      if (!isAlreadyExists(error)) return call(ctx, `CreatePolicy ${name}`, () => Promise.reject(error));
    }
    return syncPolicy(ctx, name, round);
  }
  if (jsonEqual(parsed(target.policyDocument), parsed(document))) return { kind: 'policy', name, action: 'unchanged' };

  const versions = await call(ctx, `ListPolicyVersions ${name}`, () =>
    ctx.target.iot.send(new ListPolicyVersionsCommand({ policyName: name })),
  );
  const prunable = (versions.policyVersions ?? [])
    .filter((v) => !v.isDefaultVersion && v.versionId)
    .sort((a, b) => Number(a.versionId) - Number(b.versionId));
  let count = versions.policyVersions?.length ?? 0;
  for (const version of prunable) {
    if (count < MAX_POLICY_VERSIONS) break;
    // A concurrent writer may have made this version the default meanwhile: retry later.
    await find(
      ctx,
      `DeletePolicyVersion ${name} ${version.versionId}`,
      () => ctx.target.iot.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId: version.versionId })),
      ['DeleteConflictException'],
    );
    count--;
  }
  try {
    await ctx.target.iot.send(new CreatePolicyVersionCommand({ policyName: name, policyDocument: document, setAsDefault: true }));
  } catch (error) {
    // Executions for things sharing this policy run concurrently: another one may have added a
    // version (five-version limit) or made the version we pruned the default. Compare again
    // from the start, a bounded number of times, then let the workflow retry.
    if (!POLICY_RACES.has(awsErrorName(error))) return call(ctx, `CreatePolicyVersion ${name}`, () => Promise.reject(error));
    if (round < MAX_POLICY_ROUNDS) return syncPolicy(ctx, name, round + 1);
    throw new RetryableError(`CreatePolicyVersion ${name}: ${awsErrorName(error)} after ${round + 1} rounds (concurrent writers)`, {
      cause: error,
      context: { eventId: ctx.eventId },
    });
  }
  return { kind: 'policy', name, action: 'updated', detail: 'new default version' };
}

/**
 * Deletes the secondary's policy `name` when nothing is attached to it there and the primary no
 * longer uses it (absent, or without targets). Non-default versions go first: AWS refuses to
 * delete a policy that still has them.
 */
export async function cleanupPolicy(ctx: ReplicationContext, name: string): Promise<Outcome> {
  const targets = await findAll(
    ctx,
    `ListTargetsForPolicy ${name}`,
    paginateListTargetsForPolicy({ client: ctx.target.iot, pageSize: ctx.pageSize }, { policyName: name }),
    (page) => page.targets,
  );
  if (targets === undefined) return { kind: 'policy', name, action: 'unchanged', detail: 'absent' };
  if (targets.length > 0) return { kind: 'policy', name, action: 'unchanged', detail: `still attached to ${targets.length} target(s)` };

  const inPrimary = await find(ctx, `GetPolicy ${name} (primary)`, () => ctx.origin.iot.send(new GetPolicyCommand({ policyName: name })));
  if (inPrimary) {
    const primaryTargets = await call(ctx, `ListTargetsForPolicy ${name} (primary)`, () =>
      ctx.origin.iot.send(new ListTargetsForPolicyCommand({ policyName: name, pageSize: 1 })),
    );
    if ((primaryTargets.targets ?? []).length > 0) {
      return { kind: 'policy', name, action: 'unchanged', detail: 'still used in the primary' };
    }
  }

  const versions = await find(ctx, `ListPolicyVersions ${name}`, () => ctx.target.iot.send(new ListPolicyVersionsCommand({ policyName: name })));
  for (const version of versions?.policyVersions ?? []) {
    if (version.isDefaultVersion) continue;
    await find(ctx, `DeletePolicyVersion ${name} ${version.versionId}`, () =>
      ctx.target.iot.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId: version.versionId })),
    );
  }
  const deleted = await find(ctx, `DeletePolicy ${name}`, () => ctx.target.iot.send(new DeletePolicyCommand({ policyName: name })), [
    'DeleteConflictException',
  ]);
  return { kind: 'policy', name, action: deleted ? 'deleted' : 'unchanged', detail: deleted ? undefined : 'absent' };
}
