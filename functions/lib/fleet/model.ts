/**
 * The normalized model of one region's IoT registry that `iot-dr verify` and the reconciliation
 * job compare. Everything region-specific (ARNs, versions, timestamps, ids AWS generates) is left
 * out or normalized, so two regions holding the same fleet produce equal models.
 */
import type { IoTClient } from '@aws-sdk/client-iot';
import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/** The clients of one region (structurally `ReplicationContext['primary']` plus its region). */
export interface RegionClients {
  readonly region: string;
  readonly iot: IoTClient;
  readonly data: IoTDataPlaneClient;
}

/** A thing as the registry holds it. */
export interface ThingState {
  readonly name: string;
  /** `null` when the thing has no type. */
  readonly type: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  /** Static thing groups the thing belongs to, sorted. */
  readonly groups: readonly string[];
  /** Principals attached to the thing: certificate ids, or normalized ARNs for other principals; sorted. */
  readonly principals: readonly string[];
  /** Shadows by name; `''` is the classic shadow. Absent when shadows were not read. */
  readonly shadows?: Readonly<Record<string, ShadowState>>;
}

/** The parts of a shadow document that replication carries (not version, metadata, timestamps). */
export interface ShadowState {
  /** Canonical JSON of `state.desired` (`null` when absent). */
  readonly desired: string | null;
  /** Canonical JSON of `state.reported` (`null` when absent). */
  readonly reported: string | null;
}

export interface ThingTypeState {
  readonly name: string;
  readonly description: string | null;
  readonly searchableAttributes: readonly string[];
  readonly deprecated: boolean;
}

export interface ThingGroupState {
  readonly name: string;
  readonly parent: string | null;
  readonly description: string | null;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface CertificateState {
  /** The certificate id, which AWS IoT derives from the certificate itself (equal in both regions). */
  readonly id: string;
  readonly status: string;
  /** SHA-256 of the certificate's DER bytes, hex (`null` when the PEM was not read). */
  readonly fingerprint: string | null;
}

export interface PolicyState {
  readonly name: string;
  /** Canonical JSON of the default version, with the region inside every ARN replaced by `${region}`. */
  readonly document: string;
  /** Targets the policy is attached to: certificate ids, or normalized ARNs; sorted. */
  readonly targets: readonly string[];
}

/**
 * A CA certificate (provisioning readiness: JITR/JITP). The certificate mode is not compared: the
 * secondary's copy is SNI_ONLY by design (iot-dr never holds the CA's key).
 */
export interface CaCertificateState {
  readonly id: string;
  readonly status: string;
  readonly autoRegistration: string;
  /** SHA-256 of the CA certificate's DER bytes, hex. */
  readonly fingerprint: string | null;
  /** The JITP registration config: template body (canonical, regions normalized), role ARN, template name. */
  readonly registrationConfig: { readonly templateBody: string | null; readonly roleArn: string | null; readonly templateName: string | null };
}

/** A provisioning template (fleet provisioning or JITP), ARNs region-normalized. */
export interface ProvisioningTemplateState {
  readonly name: string;
  readonly type: string;
  readonly enabled: boolean;
  readonly description: string | null;
  /** Canonical JSON of the default version's body, regions normalized. */
  readonly body: string;
  readonly roleArn: string;
  readonly hook: { readonly targetArn: string; readonly payloadVersion: string | null } | null;
}

/**
 * A claim certificate: attached to no thing and to a policy that grants the fleet-provisioning
 * MQTT API (`$aws/certificates/create*`, `$aws/provisioning-templates/*`), which is what a
 * fleet-provisioning claim certificate must be allowed.
 * https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html
 */
export interface ClaimCertificateState {
  readonly id: string;
  readonly status: string;
  readonly fingerprint: string | null;
  /** Policies attached to it, sorted. */
  readonly policies: readonly string[];
}

/** What the provisioning resources of a region are; absent when not read. */
export interface ProvisioningSnapshot {
  /** `null` when the endpoint does not implement ListCACertificates (an emulator): not compared. */
  readonly caCertificates: ReadonlyMap<string, CaCertificateState> | null;
  /** `null` when the endpoint does not implement ListProvisioningTemplates (an emulator): not compared. */
  readonly provisioningTemplates: ReadonlyMap<string, ProvisioningTemplateState> | null;
  readonly claimCertificates: ReadonlyMap<string, ClaimCertificateState>;
}

/** One region's registry. Maps are keyed by name (certificates by id). */
export interface FleetSnapshot {
  readonly region: string;
  readonly things: ReadonlyMap<string, ThingState>;
  readonly thingTypes: ReadonlyMap<string, ThingTypeState>;
  readonly thingGroups: ReadonlyMap<string, ThingGroupState>;
  readonly certificates: ReadonlyMap<string, CertificateState>;
  readonly policies: ReadonlyMap<string, PolicyState>;
  /** CA certificates, provisioning templates and claim certificates (absent: not read). */
  readonly provisioning?: ProvisioningSnapshot;
  /** What was read: a snapshot of a filtered fleet only compares the things it holds. */
  readonly scope: SnapshotScope;
}

export interface SnapshotScope {
  /** Whether shadows were read. */
  readonly shadows: boolean;
  /** Whether thing types, groups, certificates and policies were read (false: things only). */
  readonly registry: boolean;
  /** Whether certificates, policies and thing principals were read (complete mode). */
  readonly principals: boolean;
}

/** Kinds of difference `verify` reports. */
export const DIFFERENCE_KINDS = [
  'missing',
  'extra',
  'attributes',
  'type',
  'group',
  'hierarchy',
  'certificate',
  'policy',
  'attachment',
  'shadow',
  'provisioning',
] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export type ResourceKind =
  | 'thing'
  | 'thingType'
  | 'thingGroup'
  | 'certificate'
  | 'policy'
  | 'shadow'
  | 'caCertificate'
  | 'provisioningTemplate'
  | 'claimCertificate';

/** One way the secondary differs from the primary. */
export interface Difference {
  readonly kind: DifferenceKind;
  readonly resource: ResourceKind;
  /** Name (certificate id; `thing/shadow` for a named shadow, `thing/` for a classic one). */
  readonly name: string;
  /** One human sentence. */
  readonly detail: string;
  /** The primary's value, when it helps (JSON-able). */
  readonly primary?: unknown;
  /** The secondary's value, when it helps (JSON-able). */
  readonly secondary?: unknown;
  /** The thing this difference belongs to, when it belongs to one (reconciliation repairs by thing). */
  readonly thing?: string;
  /**
   * An `attachment` difference: the one principal concerned (certificate id, or normalized ARN)
   * and the region it is attached in. The policy or thing is `resource`/`name`.
   */
  readonly attachment?: { readonly principal: string; readonly in: 'primary' | 'secondary' };
}

/** JSON with object keys sorted at every level, so equal documents give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value as object).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

const ARN_REGION = /\barn:([a-z0-9-]+):([a-z0-9-]+):([a-z]{2}(?:-[a-z]+)+-\d):/g;

/**
 * Replaces the region inside every ARN of a string with `${region}`, which is how a policy copied
 * with its region rewritten compares equal to its original.
 */
export function normalizeArnRegions(text: string): string {
  return text.replace(
    ARN_REGION,
    (_m, partition: string, service: string) => `arn:${partition}:${service}:\${region}:`,
  );
}

/** `arn:aws:iot:<region>:<account>:cert/<id>` → `<id>`; any other principal → its normalized ARN. */
export function principalKey(arn: string): string {
  const m = /^arn:[a-z0-9-]+:iot:[^:]+:[^:]*:cert\/([0-9a-f]+)$/i.exec(arn);
  return m ? m[1] : normalizeArnRegions(arn);
}
