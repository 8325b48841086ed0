import { createHash, X509Certificate } from 'node:crypto';
import {
  AttachPolicyCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DetachPolicyCommand,
  paginateListAttachedPolicies,
  paginateListCertificates,
  paginateListPrincipalThings,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
  type CertificateDescription,
  type CertificateStatus,
} from '@aws-sdk/client-iot';
import { isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { all, call, find, findAll } from './call';
import type { Outcome, ReplicationContext } from './context';
import { cleanupPolicy, syncPolicy } from './policies';

/** `arn:aws:iot:<region>:<account>:cert/<id>` → `<id>`; undefined for other principals. */
export function certificateIdFromArn(arn: string): string | undefined {
  const match = /^arn:aws[a-z-]*:iot:[a-z0-9-]+:\d{12}:cert\/([0-9a-f]{64})$/.exec(arn);
  return match?.[1];
}

/**
 * The certificate id AWS IoT derives from a certificate: the SHA-256 fingerprint of its DER
 * encoding, so the same PEM has the same id in every region and account.
 */
export function certificateIdFromPem(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');
}

/** Status to register/set in the secondary. Transfer states cannot be set there: INACTIVE. */
export function secondaryStatus(status: CertificateStatus | string | undefined): 'ACTIVE' | 'INACTIVE' | 'REVOKED' {
  if (status === 'ACTIVE' || status === 'REVOKED') return status;
  return 'INACTIVE';
}

/** Result of `syncCertificate`. */
export interface CertificateSync {
  readonly outcomes: Outcome[];
  /** The certificate's ARN in the secondary (undefined when it is gone from the primary). */
  readonly secondaryArn?: string;
}

async function describe(ctx: ReplicationContext, side: 'origin' | 'target', id: string): Promise<CertificateDescription | undefined> {
  const result = await find(ctx, `DescribeCertificate ${id} (${side})`, () =>
    ctx[side].iot.send(new DescribeCertificateCommand({ certificateId: id })),
  );
  return result?.certificateDescription;
}

/** Finds a certificate in the secondary by PEM when its id is not the fingerprint (bounded scan). */
async function findByPem(ctx: ReplicationContext, pem: string): Promise<CertificateDescription | undefined> {
  const list = await all(ctx, 'ListCertificates', paginateListCertificates({ client: ctx.target.iot, pageSize: ctx.pageSize }, {}), (page) => page.certificates);
  const wanted = pem.trim();
  for (const certificate of list) {
    const description = certificate.certificateId ? await describe(ctx, 'target', certificate.certificateId) : undefined;
    if (description?.certificatePem?.trim() === wanted) return description;
  }
  return undefined;
}

/**
 * Makes the primary's certificate `primaryId` exist in the secondary: its PEM registered without a
 * CA (multi-account registration: devices must send SNI), the primary's status, and the primary's
 * attached policies (all pages) copied and attached; policies attached only in the secondary are
 * detached. Idempotent: the secondary certificate is found by the PEM's fingerprint.
 * https://docs.aws.amazon.com/iot/latest/apireference/API_RegisterCertificateWithoutCA.html
 */
export async function syncCertificate(ctx: ReplicationContext, primaryId: string): Promise<CertificateSync> {
  const source = await describe(ctx, 'origin', primaryId);
  if (!source?.certificatePem || !source.certificateArn) {
    return { outcomes: [{ kind: 'certificate', name: primaryId, action: 'skipped', detail: 'absent in the primary' }] };
  }
  const outcomes: Outcome[] = [];
  const status = secondaryStatus(source.status);
  const secondaryId = certificateIdFromPem(source.certificatePem);
  let target = await describe(ctx, 'target', secondaryId);
  if (!target) {
    try {
      const registered = await ctx.target.iot.send(
        new RegisterCertificateWithoutCACommand({ certificatePem: source.certificatePem, status }),
      );
      target = { certificateArn: registered.certificateArn, certificateId: registered.certificateId, status };
      outcomes.push({ kind: 'certificate', name: registered.certificateId ?? secondaryId, action: 'created', detail: status });
    } catch (error) {
      if (!isAlreadyExists(error)) await call(ctx, 'RegisterCertificateWithoutCA', () => Promise.reject(error));
      // Registered concurrently, or under an id other than the fingerprint.
      target = (await describe(ctx, 'target', secondaryId)) ?? (await findByPem(ctx, source.certificatePem));
      if (!target) throw new RetryableError(`certificate ${primaryId} exists in the secondary but cannot be found yet`, { cause: error });
    }
  }
  const arn = target.certificateArn as string;
  const id = target.certificateId as string;
  if (!outcomes.length) {
    if (target.status !== status) {
      await call(ctx, `UpdateCertificate ${id}`, () =>
        ctx.target.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: status })),
      );
      outcomes.push({ kind: 'certificate', name: id, action: 'updated', detail: `${target.status} -> ${status}` });
    } else {
      outcomes.push({ kind: 'certificate', name: id, action: 'unchanged' });
    }
  }

  const wanted = await attachedPolicies(ctx, 'origin', source.certificateArn);
  for (const name of wanted ?? []) {
    outcomes.push(await syncPolicy(ctx, name));
    await call(ctx, `AttachPolicy ${name}`, () => ctx.target.iot.send(new AttachPolicyCommand({ policyName: name, target: arn })));
  }
  // A certificate registered just now has no policies to detach: skip the listing.
  const registeredNow = outcomes[0]?.action === 'created';
  const present = registeredNow ? [] : ((await attachedPolicies(ctx, 'target', arn)) ?? []);
  for (const name of present.filter((p) => !(wanted ?? []).includes(p))) {
    await find(ctx, `DetachPolicy ${name}`, () => ctx.target.iot.send(new DetachPolicyCommand({ policyName: name, target: arn })));
    outcomes.push(await cleanupPolicy(ctx, name));
  }
  return { outcomes, secondaryArn: arn };
}

/** Names of the policies attached directly to `target` (all pages). */
async function attachedPolicies(ctx: ReplicationContext, side: 'origin' | 'target', target: string): Promise<string[] | undefined> {
  const policies = await findAll(
    ctx,
    `ListAttachedPolicies (${side})`,
    paginateListAttachedPolicies({ client: ctx[side].iot, pageSize: ctx.pageSize }, { target, recursive: false }),
    (page) => page.policies,
  );
  return policies?.map((p) => p.policyName as string);
}

/** Things a principal is attached to (all pages). */
export async function principalThings(ctx: ReplicationContext, side: 'origin' | 'target', principal: string): Promise<string[]> {
  const things = await findAll(
    ctx,
    `ListPrincipalThings (${side})`,
    paginateListPrincipalThings({ client: ctx[side].iot, pageSize: ctx.pageSize }, { principal }),
    (page) => page.things,
  );
  return things ?? [];
}

/**
 * Called after a certificate was detached from `exceptThing` in the secondary: when no other
 * thing uses it in the secondary, and the primary does not use it either, its policies are
 * detached (each deleted when nothing else is attached to it), then it is deactivated and
 * deleted. `exceptThing` is ignored in listings because detaching propagates asynchronously.
 */
export async function releaseCertificate(ctx: ReplicationContext, arn: string, exceptThing: string): Promise<Outcome[]> {
  const id = certificateIdFromArn(arn) ?? arn;
  const others = (await principalThings(ctx, 'target', arn)).filter((t) => t !== exceptThing);
  if (others.length) return [{ kind: 'certificate', name: id, action: 'unchanged', detail: `still attached to ${others.join(', ')}` }];
  const inPrimary = await describe(ctx, 'origin', id);
  if (inPrimary?.certificateArn) {
    const primaryThings = (await principalThings(ctx, 'origin', inPrimary.certificateArn)).filter((t) => t !== exceptThing);
    if (primaryThings.length) return [{ kind: 'certificate', name: id, action: 'unchanged', detail: `still used in the primary by ${primaryThings.join(', ')}` }];
  }
  const outcomes: Outcome[] = [];
  for (const name of (await attachedPolicies(ctx, 'target', arn)) ?? []) {
    await find(ctx, `DetachPolicy ${name}`, () => ctx.target.iot.send(new DetachPolicyCommand({ policyName: name, target: arn })));
    outcomes.push(await cleanupPolicy(ctx, name));
  }
  const current = await describe(ctx, 'target', id);
  if (!current) return [...outcomes, { kind: 'certificate', name: id, action: 'unchanged', detail: 'absent' }];
  if (current.status === 'ACTIVE') {
    await call(ctx, `UpdateCertificate ${id}`, () => ctx.target.iot.send(new UpdateCertificateCommand({ certificateId: id, newStatus: 'INACTIVE' })));
  }
  // Detaching propagates asynchronously: AWS may still see an attachment for a few seconds.
  await find(ctx, `DeleteCertificate ${id}`, () => ctx.target.iot.send(new DeleteCertificateCommand({ certificateId: id })), [
    'DeleteConflictException',
    'CertificateStateException',
  ]);
  outcomes.push({ kind: 'certificate', name: id, action: 'deleted' });
  return outcomes;
}
