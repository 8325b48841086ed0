/**
 * Reads a region's registry into the normalized model of `./model`, with pagination on every list
 * call and bounded concurrency on the per-item reads.
 */
import { createHash } from 'node:crypto';
import {
  DescribeCertificateCommand,
  DescribeThingCommand,
  type DescribeThingCommandOutput,
  DescribeThingGroupCommand,
  GetPolicyCommand,
  paginateListCertificates,
  paginateListPolicies,
  paginateListTargetsForPolicy,
  paginateListThingGroups,
  paginateListThingGroupsForThing,
  paginateListThingPrincipals,
  paginateListThings,
  paginateListThingsInThingGroup,
  paginateListThingTypes,
  SearchIndexCommand,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, ListNamedShadowsForThingCommand } from '@aws-sdk/client-iot-data-plane';
import {
  canonicalJson,
  normalizeArnRegions,
  principalKey,
  type CertificateState,
  type FleetSnapshot,
  type PolicyState,
  type RegionClients,
  type ShadowState,
  type ThingGroupState,
  type ThingState,
  type ThingTypeState,
} from './model';
import { mapLimit } from './pool';
import { readProvisioning } from './provisioning';
import { SEARCH_PAGE_MAX } from './thing-index';

/** Which things to read: all, a name prefix, or a fleet-indexing query (SearchIndex). */
export interface ThingFilter {
  readonly prefix?: string;
  readonly query?: string;
}

/** A thing as a list call returns it. */
export interface ListedThing {
  readonly name: string;
  readonly type: string | null;
  readonly attributes: Readonly<Record<string, string>>;
}

/** True for the SDK's "not found" errors. */
export function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string } | null)?.name;
  return name === 'ResourceNotFoundException' || name === 'NotFoundException';
}

/**
 * Every thing of the region matching the filter, page by page (ListThings, or SearchIndex for a
 * query). A prefix is applied client-side because ListThings has no name filter.
 */
export async function* listThings(clients: RegionClients, filter: ThingFilter = {}): AsyncGenerator<ListedThing> {
  if (filter.query) {
    let nextToken: string | undefined;
    do {
      const page = await clients.iot.send(
        new SearchIndexCommand({ queryString: filter.query, maxResults: SEARCH_PAGE_MAX, nextToken }),
      );
      for (const t of page.things ?? []) {
        if (!t.thingName) continue;
        if (filter.prefix && !t.thingName.startsWith(filter.prefix)) continue;
        yield { name: t.thingName, type: t.thingTypeName ?? null, attributes: { ...(t.attributes ?? {}) } };
      }
      nextToken = page.nextToken;
    } while (nextToken);
    return;
  }
  for await (const page of paginateListThings({ client: clients.iot, pageSize: 250 }, {})) {
    for (const t of page.things ?? []) {
      if (!t.thingName) continue;
      if (filter.prefix && !t.thingName.startsWith(filter.prefix)) continue;
      yield { name: t.thingName, type: t.thingTypeName ?? null, attributes: { ...(t.attributes ?? {}) } };
    }
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

function shadowState(payload: Uint8Array | undefined): ShadowState {
  const doc = payload
    ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { state?: { desired?: unknown; reported?: unknown } })
    : {};
  const state = doc.state ?? {};
  return {
    desired: state.desired === undefined || state.desired === null ? null : canonicalJson(state.desired),
    reported: state.reported === undefined || state.reported === null ? null : canonicalJson(state.reported),
  };
}

/** Every shadow of a thing (classic under `''`), read through the data plane. */
export async function readShadows(clients: RegionClients, thingName: string): Promise<Record<string, ShadowState>> {
  const names: string[] = [''];
  let nextToken: string | undefined;
  do {
    const page = await clients.data.send(new ListNamedShadowsForThingCommand({ thingName, nextToken, pageSize: 100 }));
    names.push(...(page.results ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  const out: Record<string, ShadowState> = {};
  for (const shadowName of names) {
    try {
      const res = await clients.data.send(
        new GetThingShadowCommand({ thingName, shadowName: shadowName || undefined }),
      );
      out[shadowName] = shadowState(res.payload);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return out;
}

async function thingPrincipals(clients: RegionClients, thingName: string): Promise<string[]> {
  const out: string[] = [];
  for await (const page of paginateListThingPrincipals({ client: clients.iot }, { thingName })) {
    for (const arn of page.principals ?? []) out.push(principalKey(arn));
  }
  return out.sort();
}

/** Options of a single-thing read. */
export interface ReadThingOptions {
  /** Read the thing's shadows too. @default true */
  readonly shadows?: boolean;
  /** Read the thing's principals (complete mode); `false` leaves them empty (thing-only mode). @default true */
  readonly principals?: boolean;
}

/** One thing with its groups, principals and (optionally) shadows; `null` when it does not exist. */
export async function readThing(
  clients: RegionClients,
  name: string,
  options: ReadThingOptions = {},
): Promise<ThingState | null> {
  let described: DescribeThingCommandOutput;
  try {
    described = await clients.iot.send(new DescribeThingCommand({ thingName: name }));
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  const groups: string[] = [];
  for await (const page of paginateListThingGroupsForThing({ client: clients.iot }, { thingName: name })) {
    for (const g of page.thingGroups ?? []) if (g.groupName) groups.push(g.groupName);
  }
  return {
    name,
    type: described.thingTypeName ?? null,
    attributes: { ...(described.attributes ?? {}) },
    groups: groups.sort(),
    principals: options.principals === false ? [] : await thingPrincipals(clients, name),
    ...(options.shadows === false ? {} : { shadows: await readShadows(clients, name) }),
  };
}

/** Options of a region snapshot. */
export interface SnapshotOptions {
  readonly filter?: ThingFilter;
  /** Read every thing's shadows. @default true */
  readonly shadows?: boolean;
  /** Read thing types, groups, certificates and policies too. @default true */
  readonly registry?: boolean;
  /**
   * Read certificates, policies and thing principals: what complete mode replicates. `false` for
   * thing-only mode, where they are not replicated and so not compared. @default true
   */
  readonly principals?: boolean;
  /** Per-item reads in flight. @default 8 */
  readonly concurrency?: number;
  /**
   * Read CA certificates, provisioning templates and claim certificates (provisioning readiness;
   * in both modes). @default the value of `registry`
   */
  readonly provisioning?: boolean;
}

/** Thing types, with their properties and deprecation. */
export async function readThingTypes(clients: RegionClients): Promise<Map<string, ThingTypeState>> {
  const out = new Map<string, ThingTypeState>();
  for await (const page of paginateListThingTypes({ client: clients.iot }, {})) {
    for (const t of page.thingTypes ?? []) {
      if (!t.thingTypeName) continue;
      out.set(t.thingTypeName, {
        name: t.thingTypeName,
        description: t.thingTypeProperties?.thingTypeDescription || null,
        searchableAttributes: [...(t.thingTypeProperties?.searchableAttributes ?? [])].sort(),
        deprecated: t.thingTypeMetadata?.deprecated ?? false,
      });
    }
  }
  return out;
}

/** Static thing groups with parent, description and attributes (dynamic groups are not replicated). */
export async function readThingGroups(clients: RegionClients, concurrency = 8): Promise<Map<string, ThingGroupState>> {
  const names: string[] = [];
  for await (const page of paginateListThingGroups({ client: clients.iot }, {})) {
    for (const g of page.thingGroups ?? []) if (g.groupName) names.push(g.groupName);
  }
  const described = await mapLimit(names, concurrency, (thingGroupName) =>
    clients.iot.send(new DescribeThingGroupCommand({ thingGroupName })).catch((err: unknown) => {
      if (isNotFound(err)) return undefined; // deleted while we listed
      throw err;
    }),
  );
  const out = new Map<string, ThingGroupState>();
  described.forEach((g, i) => {
    if (!g || g.queryString) return; // dynamic group: membership is computed by the index
    out.set(names[i], {
      name: names[i],
      parent: g.thingGroupMetadata?.parentGroupName ?? null,
      // An empty description and none are the same (UpdateThingGroup cannot unset it).
      description: g.thingGroupProperties?.thingGroupDescription || null,
      attributes: { ...(g.thingGroupProperties?.attributePayload?.attributes ?? {}) },
    });
  });
  return out;
}

/** SHA-256 of a PEM certificate's DER bytes. */
export function pemFingerprint(pem: string): string {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex');
}

/** Certificates with status and fingerprint. */
export async function readCertificates(
  clients: RegionClients,
  concurrency = 8,
): Promise<Map<string, CertificateState>> {
  const listed: { id: string; status: string }[] = [];
  for await (const page of paginateListCertificates({ client: clients.iot, pageSize: 250 }, {})) {
    for (const c of page.certificates ?? [])
      if (c.certificateId) listed.push({ id: c.certificateId, status: c.status ?? 'UNKNOWN' });
  }
  const pems = await mapLimit(listed, concurrency, async (c) => {
    try {
      const res = await clients.iot.send(new DescribeCertificateCommand({ certificateId: c.id }));
      return res.certificateDescription?.certificatePem;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
  const out = new Map<string, CertificateState>();
  listed.forEach((c, i) => {
    const pem = pems[i];
    out.set(c.id, { id: c.id, status: c.status, fingerprint: pem ? pemFingerprint(pem) : null });
  });
  return out;
}

/** Normalizes a policy document: canonical JSON with the region of every ARN replaced. */
export function normalizePolicyDocument(document: string): string {
  try {
    return normalizeArnRegions(canonicalJson(JSON.parse(document)));
  } catch {
    return normalizeArnRegions(document);
  }
}

/**
 * Policies (default version) and their targets. `targetsOf` limits the target listings (one or
 * more calls per policy) to the policies it accepts; the others get none listed.
 */
export async function readPolicies(
  clients: RegionClients,
  concurrency = 8,
  targetsOf: (policy: Pick<PolicyState, 'name' | 'document'>) => boolean = () => true,
): Promise<Map<string, PolicyState>> {
  const names: string[] = [];
  for await (const page of paginateListPolicies({ client: clients.iot, pageSize: 250 }, {})) {
    for (const p of page.policies ?? []) if (p.policyName) names.push(p.policyName);
  }
  const read = await mapLimit(names, concurrency, async (policyName) => {
    try {
      const policy = await clients.iot.send(new GetPolicyCommand({ policyName }));
      const document = normalizePolicyDocument(policy.policyDocument ?? '');
      const targets: string[] = [];
      if (targetsOf({ name: policyName, document })) {
        for await (const page of paginateListTargetsForPolicy({ client: clients.iot, pageSize: 250 }, { policyName })) {
          for (const t of page.targets ?? []) targets.push(principalKey(t));
        }
      }
      return { name: policyName, document, targets: targets.sort() };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  });
  const out = new Map<string, PolicyState>();
  for (const p of read) if (p) out.set(p.name, p);
  return out;
}

/** Reads a whole region (or the things matching a filter) into a `FleetSnapshot`. */
export async function snapshotRegion(clients: RegionClients, options: SnapshotOptions = {}): Promise<FleetSnapshot> {
  const concurrency = options.concurrency ?? 8;
  const withShadows = options.shadows ?? true;
  const registry = options.registry ?? true;
  const withPrincipals = options.principals ?? true;

  const listed = await collect(listThings(clients, options.filter));
  const [thingTypes, thingGroups, certificates, policies] = registry
    ? await Promise.all([
        readThingTypes(clients),
        readThingGroups(clients, concurrency),
        withPrincipals ? readCertificates(clients, concurrency) : new Map<string, CertificateState>(),
        withPrincipals ? readPolicies(clients, concurrency) : new Map<string, PolicyState>(),
      ])
    : [new Map(), new Map(), new Map(), new Map()];

  // Memberships by group (one call per group, not per thing).
  const groupsOf = new Map<string, string[]>();
  if (registry) {
    await mapLimit([...thingGroups.keys()], concurrency, async (thingGroupName) => {
      for await (const page of paginateListThingsInThingGroup({ client: clients.iot }, { thingGroupName })) {
        for (const thing of page.things ?? []) {
          const list = groupsOf.get(thing) ?? [];
          list.push(thingGroupName);
          groupsOf.set(thing, list);
        }
      }
    });
  }

  const provisioning = registry && (options.provisioning ?? true)
    ? await readProvisioning(clients, concurrency, withPrincipals ? policies : undefined)
    : undefined;

  const things = new Map<string, ThingState>();
  const states = await mapLimit(listed, concurrency, async (t) => {
    let groups = groupsOf.get(t.name);
    if (!registry) {
      groups = [];
      for await (const page of paginateListThingGroupsForThing({ client: clients.iot }, { thingName: t.name })) {
        for (const g of page.thingGroups ?? []) if (g.groupName) groups.push(g.groupName);
      }
    }
    const state: ThingState = {
      name: t.name,
      type: t.type,
      attributes: t.attributes,
      groups: [...(groups ?? [])].sort(),
      principals: withPrincipals ? await thingPrincipals(clients, t.name) : [],
      ...(withShadows ? { shadows: await readShadows(clients, t.name) } : {}),
    };
    return state;
  });
  for (const s of states) things.set(s.name, s);

  return {
    region: clients.region,
    things,
    thingTypes,
    thingGroups,
    certificates,
    policies,
    ...(provisioning ? { provisioning } : {}),
    scope: { shadows: withShadows, registry, principals: withPrincipals },
  };
}
