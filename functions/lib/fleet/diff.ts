/**
 * Compares two regions' snapshots and lists every way the secondary differs from the primary,
 * sorted by resource and name so two runs print the same report.
 */
import type { Difference, FleetSnapshot, ShadowState, ThingState } from './model';
import { diffProvisioning } from './provisioning';

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function sameRecord(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return sameList(ka, kb) && ka.every((k) => a[k] === b[k]);
}

function attributeChanges(p: Readonly<Record<string, string>>, s: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  for (const k of Object.keys(p).sort()) {
    if (!(k in s)) parts.push(`${k} missing`);
    else if (p[k] !== s[k]) parts.push(`${k}: ${JSON.stringify(p[k])} != ${JSON.stringify(s[k])}`);
  }
  for (const k of Object.keys(s).sort()) if (!(k in p)) parts.push(`${k} extra`);
  return parts.join(', ');
}

const shadowLabel = (thing: string, shadow: string) => `${thing}/${shadow}`;
const shadowWord = (shadow: string) => (shadow === '' ? 'classic shadow' : `named shadow "${shadow}"`);

function diffShadows(
  thing: string,
  p: Readonly<Record<string, ShadowState>>,
  s: Readonly<Record<string, ShadowState>>,
  out: Difference[],
): void {
  const names = [...new Set([...Object.keys(p), ...Object.keys(s)])].sort();
  for (const name of names) {
    const a = p[name];
    const b = s[name];
    const base = { kind: 'shadow' as const, resource: 'shadow' as const, name: shadowLabel(thing, name), thing };
    if (a && !b) out.push({ ...base, detail: `${shadowWord(name)} of ${thing} missing in secondary`, primary: a });
    else if (!a && b)
      out.push({ ...base, detail: `${shadowWord(name)} of ${thing} exists only in secondary`, secondary: b });
    else if (a && b && (a.desired !== b.desired || a.reported !== b.reported)) {
      const which = [a.desired !== b.desired ? 'desired' : '', a.reported !== b.reported ? 'reported' : '']
        .filter(Boolean)
        .join(' and ');
      out.push({
        ...base,
        detail: `${shadowWord(name)} of ${thing}: ${which} state differs`,
        primary: a,
        secondary: b,
      });
    }
  }
}

const principalWord = (key: string) => (/^[0-9a-f]{64}$/i.test(key) ? `certificate ${key}` : `principal ${key}`);

/**
 * One difference per principal attached on one side only, naming the principal (the certificate
 * id) and the thing or policy, instead of both whole lists: a policy shared by thousands of
 * certificates would otherwise print thousands of ids for one missing attachment.
 */
function attachmentDifferences(
  base: Pick<Difference, 'kind' | 'resource' | 'name' | 'thing'>,
  owner: string,
  primary: readonly string[],
  secondary: readonly string[],
): Difference[] {
  const inSecondary = new Set(secondary);
  const inPrimary = new Set(primary);
  return [
    ...primary
      .filter((k) => !inSecondary.has(k))
      .map((k) => ({
        ...base,
        detail: `${principalWord(k)} attached to ${owner} in primary, not in secondary`,
        attachment: { principal: k, in: 'primary' as const },
      })),
    ...secondary
      .filter((k) => !inPrimary.has(k))
      .map((k) => ({
        ...base,
        detail: `${principalWord(k)} attached to ${owner} only in secondary`,
        attachment: { principal: k, in: 'secondary' as const },
      })),
  ];
}

/** Differences of one thing (`null` = absent in that region). */
export function diffThing(name: string, p: ThingState | null, s: ThingState | null): Difference[] {
  const out: Difference[] = [];
  const base = { resource: 'thing' as const, name, thing: name };
  if (p && !s) return [{ ...base, kind: 'missing', detail: `thing ${name} missing in secondary` }];
  if (!p && s) return [{ ...base, kind: 'extra', detail: `thing ${name} exists only in secondary` }];
  if (!p || !s) return out;
  if (p.type !== s.type) {
    out.push({
      ...base,
      kind: 'type',
      detail: `thing type ${JSON.stringify(p.type)} in primary, ${JSON.stringify(s.type)} in secondary`,
      primary: p.type,
      secondary: s.type,
    });
  }
  if (!sameRecord(p.attributes, s.attributes)) {
    out.push({
      ...base,
      kind: 'attributes',
      detail: `attributes differ: ${attributeChanges(p.attributes, s.attributes)}`,
      primary: p.attributes,
      secondary: s.attributes,
    });
  }
  if (!sameList(p.groups, s.groups)) {
    out.push({
      ...base,
      kind: 'group',
      detail: `groups [${p.groups.join(', ')}] in primary, [${s.groups.join(', ')}] in secondary`,
      primary: p.groups,
      secondary: s.groups,
    });
  }
  if (!sameList(p.principals, s.principals)) {
    out.push(...attachmentDifferences({ ...base, kind: 'attachment' }, `thing ${name}`, p.principals, s.principals));
  }
  if (p.shadows && s.shadows) diffShadows(name, p.shadows, s.shadows, out);
  return out;
}

/** Every difference between the primary's and the secondary's snapshot. */
export function diffSnapshots(primary: FleetSnapshot, secondary: FleetSnapshot): Difference[] {
  const out: Difference[] = [];

  for (const name of union(primary.thingTypes, secondary.thingTypes)) {
    const p = primary.thingTypes.get(name);
    const s = secondary.thingTypes.get(name);
    if (p && !s)
      out.push({ kind: 'missing', resource: 'thingType', name, detail: `thing type ${name} missing in secondary` });
    else if (!p && s)
      out.push({ kind: 'extra', resource: 'thingType', name, detail: `thing type ${name} exists only in secondary` });
    else if (p && s) {
      const changes: string[] = [];
      if (p.description !== s.description) changes.push('description');
      if (!sameList(p.searchableAttributes, s.searchableAttributes)) changes.push('searchable attributes');
      if (p.deprecated !== s.deprecated) changes.push(`deprecated (${p.deprecated} in primary)`);
      if (changes.length)
        out.push({
          kind: 'attributes',
          resource: 'thingType',
          name,
          detail: `thing type ${name}: ${changes.join(', ')} differ`,
          primary: p,
          secondary: s,
        });
    }
  }

  for (const name of union(primary.thingGroups, secondary.thingGroups)) {
    const p = primary.thingGroups.get(name);
    const s = secondary.thingGroups.get(name);
    if (p && !s)
      out.push({ kind: 'missing', resource: 'thingGroup', name, detail: `thing group ${name} missing in secondary` });
    else if (!p && s)
      out.push({ kind: 'extra', resource: 'thingGroup', name, detail: `thing group ${name} exists only in secondary` });
    else if (p && s) {
      if (p.parent !== s.parent) {
        out.push({
          kind: 'hierarchy',
          resource: 'thingGroup',
          name,
          detail: `thing group ${name}: parent ${JSON.stringify(p.parent)} in primary, ${JSON.stringify(s.parent)} in secondary`,
          primary: p.parent,
          secondary: s.parent,
        });
      }
      if (p.description !== s.description || !sameRecord(p.attributes, s.attributes)) {
        const what = [
          p.description !== s.description ? 'description' : '',
          sameRecord(p.attributes, s.attributes) ? '' : attributeChanges(p.attributes, s.attributes),
        ]
          .filter(Boolean)
          .join(', ');
        out.push({
          kind: 'attributes',
          resource: 'thingGroup',
          name,
          detail: `thing group ${name}: ${what}`,
          primary: p,
          secondary: s,
        });
      }
    }
  }

  for (const id of union(primary.certificates, secondary.certificates)) {
    const p = primary.certificates.get(id);
    const s = secondary.certificates.get(id);
    if (p && !s)
      out.push({
        kind: 'certificate',
        resource: 'certificate',
        name: id,
        detail: `certificate ${id} missing in secondary`,
        primary: p.status,
      });
    else if (!p && s)
      out.push({
        kind: 'extra',
        resource: 'certificate',
        name: id,
        detail: `certificate ${id} exists only in secondary`,
      });
    else if (p && s) {
      if (p.status !== s.status)
        out.push({
          kind: 'certificate',
          resource: 'certificate',
          name: id,
          detail: `certificate ${id} is ${p.status} in primary, ${s.status} in secondary`,
          primary: p.status,
          secondary: s.status,
        });
      else if (p.fingerprint && s.fingerprint && p.fingerprint !== s.fingerprint)
        out.push({
          kind: 'certificate',
          resource: 'certificate',
          name: id,
          detail: `certificate ${id}: PEM fingerprints differ`,
        });
    }
  }

  for (const name of union(primary.policies, secondary.policies)) {
    const p = primary.policies.get(name);
    const s = secondary.policies.get(name);
    if (p && !s) out.push({ kind: 'missing', resource: 'policy', name, detail: `policy ${name} missing in secondary` });
    else if (!p && s)
      out.push({ kind: 'extra', resource: 'policy', name, detail: `policy ${name} exists only in secondary` });
    else if (p && s) {
      if (p.document !== s.document)
        out.push({
          kind: 'policy',
          resource: 'policy',
          name,
          detail: `policy ${name}: default version documents differ (after region normalization)`,
          primary: p.document,
          secondary: s.document,
        });
      if (!sameList(p.targets, s.targets))
        out.push(...attachmentDifferences({ kind: 'attachment', resource: 'policy', name }, `policy ${name}`, p.targets, s.targets));
    }
  }

  if (primary.provisioning && secondary.provisioning) out.push(...diffProvisioning(primary.provisioning, secondary.provisioning));

  for (const name of union(primary.things, secondary.things)) {
    out.push(...diffThing(name, primary.things.get(name) ?? null, secondary.things.get(name) ?? null));
  }
  return out;
}

function union<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort();
}

/** Counts per kind, every kind present (zeros included) so reports have a stable shape. */
export function countByKind(differences: readonly Difference[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of differences) out[d.kind] = (out[d.kind] ?? 0) + 1;
  return out;
}
