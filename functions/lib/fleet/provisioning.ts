/**
 * Provisioning readiness: reads a region's CA certificates, provisioning templates and claim
 * certificates into the normalized model, and converges the secondary's through the replication
 * library. Shared by `iot-dr copy`, `iot-dr verify` and the reconciliation job (they are few, so
 * each is read whole).
 */
import {
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DescribeProvisioningTemplateCommand,
  ListAttachedPoliciesCommand,
  ListCACertificatesCommand,
  ListPrincipalThingsCommand,
  ListProvisioningTemplatesCommand,
} from '@aws-sdk/client-iot';
import { syncCaCertificate, syncCertificate, syncProvisioningTemplate, type Outcome, type ReplicationContext } from '../replication';
import {
  normalizeArnRegions,
  type CaCertificateState,
  type ClaimCertificateState,
  type Difference,
  type PolicyState,
  type ProvisioningSnapshot,
  type ProvisioningTemplateState,
  type RegionClients,
} from './model';
import { mapLimit } from './pool';
import { isNotFound, normalizePolicyDocument, pemFingerprint, readPolicies } from './snapshot';

const MAX_PAGES = 10_000;

/**
 * True when the endpoint does not implement the operation at all: moto (5.2.5) answers
 * ListCACertificates and the provisioning-template API with an HTML 500 page the SDK cannot parse.
 * AWS never does; against moto without the emulation (cli/iot-emulation.ts) the kind is then
 * reported as not compared rather than failing the whole run.
 */
export function isUnimplemented(err: unknown): boolean {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | null;
  return (
    e?.name === 'UnknownOperationException' ||
    e?.name === 'NotImplemented' ||
    (e?.name === 'SyntaxError' && e.$metadata?.httpStatusCode === 500) ||
    (e?.$metadata?.httpStatusCode === 500 && /Deserialization error/.test(e.message ?? ''))
  );
}

/** Operations a client's endpoint was found not to implement: asked once per process, not per run. */
const unimplemented = new WeakMap<object, Set<string>>();
const knownUnimplemented = (client: object, operation: string) => unimplemented.get(client)?.has(operation) ?? false;
function markUnimplemented(client: object, operation: string): void {
  const set = unimplemented.get(client) ?? new Set<string>();
  set.add(operation);
  unimplemented.set(client, set);
}

/** Ids of the region's CA certificates (all pages); `null` when the endpoint lacks the API. */
export async function listCaCertificateIds(clients: Pick<RegionClients, 'iot'>): Promise<string[] | null> {
  const ids: string[] = [];
  let marker: string | undefined;
  if (knownUnimplemented(clients.iot, 'ListCACertificates')) return null;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await clients.iot.send(new ListCACertificatesCommand({ marker, pageSize: 250 }));
      for (const c of res.certificates ?? []) if (c.certificateId) ids.push(c.certificateId);
      marker = res.nextMarker || undefined;
      if (!marker) break;
    }
  } catch (err) {
    if (!isUnimplemented(err)) throw err;
    markUnimplemented(clients.iot, 'ListCACertificates');
    return null;
  }
  return ids.sort();
}

/** Names of the region's provisioning templates (all pages); `null` when the endpoint lacks the API. */
export async function listProvisioningTemplateNames(clients: Pick<RegionClients, 'iot'>): Promise<string[] | null> {
  const names: string[] = [];
  let nextToken: string | undefined;
  if (knownUnimplemented(clients.iot, 'ListProvisioningTemplates')) return null;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await clients.iot.send(new ListProvisioningTemplatesCommand({ nextToken, maxResults: 250 }));
      for (const t of res.templates ?? []) if (t.templateName) names.push(t.templateName);
      nextToken = res.nextToken || undefined;
      if (!nextToken) break;
    }
  } catch (err) {
    if (!isUnimplemented(err)) throw err;
    markUnimplemented(clients.iot, 'ListProvisioningTemplates');
    return null;
  }
  return names.sort();
}

const normalized = (text: string | undefined) => (text ? normalizePolicyDocument(text) : null);

export async function readCaCertificates(clients: Pick<RegionClients, 'iot'>, concurrency = 4): Promise<Map<string, CaCertificateState> | null> {
  const ids = await listCaCertificateIds(clients);
  if (!ids) return null;
  const read = await mapLimit(ids, concurrency, async (certificateId) => {
    try {
      return await clients.iot.send(new DescribeCACertificateCommand({ certificateId }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
  const out = new Map<string, CaCertificateState>();
  read.forEach((d, i) => {
    if (!d) return;
    const c = d.certificateDescription;
    const config = d.registrationConfig;
    out.set(ids[i], {
      id: ids[i],
      status: c?.status ?? 'INACTIVE',
      autoRegistration: c?.autoRegistrationStatus ?? 'DISABLE',
      fingerprint: c?.certificatePem ? pemFingerprint(c.certificatePem) : null,
      registrationConfig: {
        templateBody: normalized(config?.templateBody),
        roleArn: config?.roleArn ? normalizeArnRegions(config.roleArn) : null,
        templateName: config?.templateName || null,
      },
    });
  });
  return out;
}

export async function readProvisioningTemplates(
  clients: Pick<RegionClients, 'iot'>,
  concurrency = 4,
): Promise<Map<string, ProvisioningTemplateState> | null> {
  const names = await listProvisioningTemplateNames(clients);
  if (!names) return null;
  const read = await mapLimit(names, concurrency, async (templateName) => {
    try {
      return await clients.iot.send(new DescribeProvisioningTemplateCommand({ templateName }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
  const out = new Map<string, ProvisioningTemplateState>();
  read.forEach((t, i) => {
    if (!t) return;
    out.set(names[i], {
      name: names[i],
      type: t.type ?? 'FLEET_PROVISIONING',
      enabled: t.enabled ?? false,
      description: t.description || null,
      body: normalizePolicyDocument(t.templateBody ?? '{}'),
      roleArn: normalizeArnRegions(t.provisioningRoleArn ?? ''),
      hook: t.preProvisioningHook?.targetArn
        ? { targetArn: normalizeArnRegions(t.preProvisioningHook.targetArn), payloadVersion: t.preProvisioningHook.payloadVersion ?? null }
        : null,
    });
  });
  return out;
}

/** The MQTT topics of the fleet-provisioning API (CreateKeysAndCertificate, RegisterThing, ...). */
const PROVISIONING_TOPICS = /\$aws\/(certificates\/create|provisioning-templates\/)/;

/** Whether a policy grants the fleet-provisioning MQTT API: what a claim certificate's policy does. */
export function isProvisioningPolicy(policy: Pick<PolicyState, 'document'>): boolean {
  return PROVISIONING_TOPICS.test(policy.document);
}

/**
 * Claim certificates: certificates attached to a provisioning policy (see
 * {@link isProvisioningPolicy}) and to no thing, with status, fingerprint and every policy
 * attached to them.
 */
export async function readClaimCertificates(
  clients: Pick<RegionClients, 'iot'> & { region: string },
  concurrency = 4,
  policies?: ReadonlyMap<string, PolicyState>,
): Promise<Map<string, ClaimCertificateState>> {
  const all = policies ?? (await readPolicies(clients as RegionClients, concurrency));
  const candidates = new Set<string>();
  for (const p of all.values()) {
    if (!isProvisioningPolicy(p)) continue;
    for (const t of p.targets) if (/^[0-9a-f]{64}$/i.test(t)) candidates.add(t);
  }
  const states = await mapLimit([...candidates].sort(), concurrency, async (certificateId): Promise<ClaimCertificateState | undefined> => {
    try {
      const described = await clients.iot.send(new DescribeCertificateCommand({ certificateId }));
      const arn = described.certificateDescription?.certificateArn ?? '';
      const things = await clients.iot.send(new ListPrincipalThingsCommand({ principal: arn, maxResults: 1 }));
      if (things.things?.length) return undefined;
      const attached: string[] = [];
      let marker: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const res = await clients.iot.send(new ListAttachedPoliciesCommand({ target: arn, marker, pageSize: 250 }));
        for (const p of res.policies ?? []) if (p.policyName) attached.push(p.policyName);
        marker = res.nextMarker || undefined;
        if (!marker) break;
      }
      const pem = described.certificateDescription?.certificatePem;
      return {
        id: certificateId,
        status: described.certificateDescription?.status ?? 'UNKNOWN',
        fingerprint: pem ? pemFingerprint(pem) : null,
        policies: attached.sort(),
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
  return new Map(states.flatMap((s) => (s ? [[s.id, s] as const] : [])));
}

/** A region's provisioning resources. */
export async function readProvisioning(
  clients: RegionClients,
  concurrency = 4,
  policies?: ReadonlyMap<string, PolicyState>,
): Promise<ProvisioningSnapshot> {
  const [caCertificates, provisioningTemplates, claimCertificates] = await Promise.all([
    readCaCertificates(clients, concurrency),
    readProvisioningTemplates(clients, concurrency),
    readClaimCertificates(clients, concurrency, policies),
  ]);
  return { caCertificates, provisioningTemplates, claimCertificates };
}

const json = (v: unknown) => JSON.stringify(v);

/** Every way the secondary's provisioning resources differ from the primary's, one difference each. */
export function diffProvisioning(p: ProvisioningSnapshot, s: ProvisioningSnapshot): Difference[] {
  const out: Difference[] = [];
  const union = (a: ReadonlyMap<string, unknown>, b: ReadonlyMap<string, unknown>) => [...new Set([...a.keys(), ...b.keys()])].sort();
  if (p.caCertificates && s.caCertificates) {
    for (const id of union(p.caCertificates, s.caCertificates)) {
      const a = p.caCertificates.get(id);
      const b = s.caCertificates.get(id);
      const base = { resource: 'caCertificate' as const, name: id };
      if (a && !b) out.push({ ...base, kind: 'missing', detail: `CA certificate ${id} missing in secondary` });
      else if (!a && b) out.push({ ...base, kind: 'extra', detail: `CA certificate ${id} exists only in secondary` });
      else if (a && b) {
        const what = [
          a.status !== b.status ? `status ${a.status} in primary, ${b.status} in secondary` : '',
          a.autoRegistration !== b.autoRegistration ? `auto-registration ${a.autoRegistration} in primary, ${b.autoRegistration} in secondary` : '',
          a.fingerprint && b.fingerprint && a.fingerprint !== b.fingerprint ? 'PEM fingerprints differ' : '',
          a.registrationConfig.templateBody !== b.registrationConfig.templateBody ? 'registration template body differs' : '',
          a.registrationConfig.roleArn !== b.registrationConfig.roleArn ? 'registration role differs' : '',
          a.registrationConfig.templateName !== b.registrationConfig.templateName ? 'registration template name differs' : '',
        ].filter(Boolean);
        if (what.length) out.push({ ...base, kind: 'provisioning', detail: `CA certificate ${id}: ${what.join('; ')}`, primary: a, secondary: b });
      }
    }
  }
  if (p.provisioningTemplates && s.provisioningTemplates) {
    for (const name of union(p.provisioningTemplates, s.provisioningTemplates)) {
      const a = p.provisioningTemplates.get(name);
      const b = s.provisioningTemplates.get(name);
      const base = { resource: 'provisioningTemplate' as const, name };
      if (a && !b) out.push({ ...base, kind: 'missing', detail: `provisioning template ${name} missing in secondary` });
      else if (!a && b) out.push({ ...base, kind: 'extra', detail: `provisioning template ${name} exists only in secondary` });
      else if (a && b) {
        const what = [
          a.type !== b.type ? `type ${a.type} in primary, ${b.type} in secondary` : '',
          a.enabled !== b.enabled ? `enabled ${a.enabled} in primary, ${b.enabled} in secondary` : '',
          a.description !== b.description ? 'description differs' : '',
          a.body !== b.body ? 'template body differs' : '',
          a.roleArn !== b.roleArn ? `provisioning role ${a.roleArn} in primary, ${b.roleArn} in secondary` : '',
          json(a.hook) !== json(b.hook) ? `pre-provisioning hook ${a.hook?.targetArn ?? 'none'} in primary, ${b.hook?.targetArn ?? 'none'} in secondary` : '',
        ].filter(Boolean);
        if (what.length) out.push({ ...base, kind: 'provisioning', detail: `provisioning template ${name}: ${what.join('; ')}`, primary: a, secondary: b });
      }
    }
  }
  for (const id of [...p.claimCertificates.keys()].sort()) {
    const a = p.claimCertificates.get(id) as ClaimCertificateState;
    const b = s.claimCertificates.get(id);
    const base = { resource: 'claimCertificate' as const, name: id };
    if (!b) {
      out.push({ ...base, kind: 'missing', detail: `claim certificate ${id} (policies ${a.policies.join(', ')}) missing in secondary` });
      continue;
    }
    if (a.status !== b.status) out.push({ ...base, kind: 'certificate', detail: `claim certificate ${id} is ${a.status} in primary, ${b.status} in secondary` });
    for (const policy of a.policies.filter((x) => !b.policies.includes(x)))
      out.push({ ...base, kind: 'attachment', detail: `policy ${policy} attached to claim certificate ${id} in primary, not in secondary` });
    for (const policy of b.policies.filter((x) => !a.policies.includes(x)))
      out.push({ ...base, kind: 'attachment', detail: `policy ${policy} attached to claim certificate ${id} only in secondary` });
  }
  // A claim certificate only the secondary has is not reported: it may be one of the secondary's
  // device certificates (no thing attached yet) rather than a claim certificate.
  return out;
}

/** What converging the provisioning resources did. */
export interface ProvisioningSync {
  readonly outcomes: Outcome[];
  readonly errors: { readonly name: string; readonly error: string }[];
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * Makes the secondary's CA certificates, provisioning templates and claim certificates (with
 * their policies) match the primary's: every one the primary has, and with `prune` also the CAs
 * and templates only the secondary has, which are deleted (`copy` never deletes; reconciliation
 * passes the drifted names in `only`, extras included). Claim certificates the secondary alone
 * has are always left alone. Lists read by `readProvisioning` may be passed in to save the reads.
 */
export async function syncProvisioning(
  ctx: ReplicationContext,
  known?: { readonly primary: ProvisioningSnapshot; readonly secondary: ProvisioningSnapshot },
  only?: { readonly caCertificates?: readonly string[]; readonly provisioningTemplates?: readonly string[]; readonly claimCertificates?: readonly string[] },
  options: { readonly prune?: boolean } = {},
): Promise<ProvisioningSync> {
  const outcomes: Outcome[] = [];
  const errors: { name: string; error: string }[] = [];
  const primary = { region: ctx.originRegion, ...ctx.origin };
  const secondary = { region: ctx.targetRegion, ...ctx.target };
  const [p, s] = known ? [known.primary, known.secondary] : await Promise.all([readProvisioning(primary), readProvisioning(secondary)]);
  const keys = (a: ReadonlyMap<string, unknown> | null, b: ReadonlyMap<string, unknown> | null) =>
    a && b ? [...new Set([...a.keys(), ...(options.prune ? b.keys() : [])])].sort() : [];
  // Templates first: a CA's registration config may name one (templateName).
  for (const name of only?.provisioningTemplates ?? keys(p.provisioningTemplates, s.provisioningTemplates)) {
    try {
      outcomes.push(await syncProvisioningTemplate(ctx, name));
    } catch (err) {
      errors.push({ name: `provisioningTemplate/${name}`, error: errorText(err) });
    }
  }
  for (const id of only?.caCertificates ?? keys(p.caCertificates, s.caCertificates)) {
    try {
      outcomes.push(...(await syncCaCertificate(ctx, id)));
    } catch (err) {
      errors.push({ name: `caCertificate/${id}`, error: errorText(err) });
    }
  }
  for (const id of only?.claimCertificates ?? [...p.claimCertificates.keys()].sort()) {
    try {
      outcomes.push(...(await syncCertificate(ctx, id)).outcomes);
    } catch (err) {
      errors.push({ name: `claimCertificate/${id}`, error: errorText(err) });
    }
  }
  return { outcomes, errors };
}
