/** `iot-dr verify`: snapshots both regions, diffs them and reports every difference by kind. */
import { randomInt } from 'node:crypto';
import {
  countByKind,
  diffSnapshots,
  isProvisioningPolicy,
  listThings,
  mapLimit,
  readPolicies,
  readProvisioning,
  readThing,
  readThingGroups,
  readThingTypes,
  snapshotRegion,
  type Difference,
  type FleetSnapshot,
  type RegionClients,
} from '../../functions/lib/fleet';
import { runContext, type GlobalOptions } from '../context';
import { EXIT } from '../errors';
import { writeLine, type CliIo } from '../io';

export interface VerifyOptions extends GlobalOptions {
  readonly concurrency: number;
  readonly prefix?: string;
  readonly query?: string;
  readonly shadows: boolean;
  readonly json: boolean;
  /** Compare this many things (chosen at random) in depth instead of the whole fleet. */
  readonly sample?: number;
}

/** What a sampled verify measured. */
export interface SampleEstimate {
  /** Things present in both regions (the population the sample is drawn from). */
  readonly population: number;
  readonly size: number;
  /** Sampled things with at least one difference. */
  readonly drifted: number;
  /** drifted / size, in percent. */
  readonly driftPercent: number;
  /** 95 % upper bound of the drifted share (Wilson score interval), in percent. */
  readonly upper95Percent: number;
  /** Estimated drifted things in the population (population × driftPercent). */
  readonly estimatedDrifted: number;
}

/** What `verify --json` prints. */
export interface VerifyReport {
  readonly match: boolean;
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly counts: Record<'primary' | 'secondary', Record<string, number>>;
  readonly differencesByKind: Record<string, number>;
  readonly differences: readonly Difference[];
  readonly seconds: number;
  /** `--sample`: thing names, types and groups compared in full, `sample.size` things in depth. */
  readonly sample?: SampleEstimate;
  /** What could not be compared, and why (never the case against AWS). */
  readonly notCompared?: readonly string[];
}

/** Upper end of the 95 % Wilson score interval of `k` successes in `n` trials. */
export function wilsonUpper95(k: number, n: number): number {
  if (n === 0) return 1;
  const z = 1.959964;
  const p = k / n;
  const z2 = z * z;
  return Math.min(1, (p + z2 / (2 * n) + z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n));
}

/** `size` distinct items chosen uniformly at random (partial Fisher-Yates). */
export function sampleOf<T>(items: readonly T[], size: number, random: (max: number) => number = randomInt): T[] {
  const pool = [...items];
  const n = Math.min(size, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + random(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool.slice(0, n);
}

const sizes = (s: FleetSnapshot) => ({
  things: s.things.size,
  thingTypes: s.thingTypes.size,
  thingGroups: s.thingGroups.size,
  certificates: s.certificates.size,
  policies: s.policies.size,
  caCertificates: s.provisioning?.caCertificates?.size ?? 0,
  provisioningTemplates: s.provisioning?.provisioningTemplates?.size ?? 0,
  claimCertificates: s.provisioning?.claimCertificates.size ?? 0,
});

/** Kinds one of the regions could not list (an emulator lacking the API): not compared. */
function notCompared(p: FleetSnapshot, s: FleetSnapshot): string[] {
  if (!p.provisioning || !s.provisioning) return [];
  return [
    p.provisioning.caCertificates && s.provisioning.caCertificates ? '' : 'CA certificates (the endpoint does not implement ListCACertificates)',
    p.provisioning.provisioningTemplates && s.provisioning.provisioningTemplates
      ? ''
      : 'provisioning templates (the endpoint does not implement ListProvisioningTemplates)',
  ].filter(Boolean);
}

/** Compares the regions; exit 0 only when they match, 4 when they differ. */
export async function verifyCommand(options: VerifyOptions, io: CliIo): Promise<number> {
  const run = runContext(options, io);
  const started = Date.now();
  try {
    const snapshot = {
      filter: { prefix: options.prefix, query: options.query },
      shadows: options.shadows,
      concurrency: options.concurrency,
      // Thing-only mode replicates no certificates or policies: comparing them would only report noise.
      principals: run.config.replication.mode === 'complete',
    };
    const sampled = options.sample ? await sampledSnapshots(run.primary, run.secondary, options, snapshot.principals) : undefined;
    const [p, s] = sampled
      ? [sampled.primary, sampled.secondary]
      : await Promise.all([snapshotRegion(run.primary, snapshot), snapshotRegion(run.secondary, snapshot)]);
    const differences = sampled ? [...sampled.differences, ...diffSnapshots(p, s)] : diffSnapshots(p, s);
    const report: VerifyReport = {
      match: differences.length === 0,
      primaryRegion: p.region,
      secondaryRegion: s.region,
      counts: { primary: sizes(p), secondary: sizes(s) },
      differencesByKind: countByKind(differences),
      differences,
      seconds: Math.round((Date.now() - started) / 10) / 100,
      ...(sampled ? { sample: sampled.estimate } : {}),
      ...(notCompared(p, s).length ? { notCompared: notCompared(p, s) } : {}),
    };
    if (options.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else printReport(report, io);
    return report.match ? EXIT.OK : EXIT.DIFFERENCES;
  } finally {
    await run.limiter.stop();
  }
}

/**
 * `--sample N`: the thing names of both regions (ListThings, 250 per call) give the missing and
 * extra things exactly; types and groups are read whole (few); N things present in both regions,
 * chosen at random, are read in depth (type, attributes, groups, principals, shadows). Snapshots
 * hold only the sampled things, and no device certificates or policies (those are fleet-sized).
 * The provisioning resources are not sampled: they are few (a handful of CA certificates,
 * templates and claim certificates) and one missing CA or template breaks every device that
 * provisions during a failover, so all of them are compared, as a full verify does. Finding the
 * claim certificates reads every policy's document (GetPolicy each) but lists the targets of the
 * provisioning policies only.
 */
async function sampledSnapshots(
  primary: RegionClients,
  secondary: RegionClients,
  options: VerifyOptions,
  principals: boolean,
): Promise<{ primary: FleetSnapshot; secondary: FleetSnapshot; differences: Difference[]; estimate: SampleEstimate }> {
  const filter = { prefix: options.prefix, query: options.query };
  const names = async (clients: RegionClients) => {
    const out = new Set<string>();
    for await (const t of listThings(clients, filter)) out.add(t.name);
    return out;
  };
  const [pNames, sNames] = await Promise.all([names(primary), names(secondary)]);
  const differences: Difference[] = [];
  for (const n of [...pNames].sort())
    if (!sNames.has(n)) differences.push({ kind: 'missing', resource: 'thing', name: n, thing: n, detail: `thing ${n} missing in secondary` });
  for (const n of [...sNames].sort())
    if (!pNames.has(n)) differences.push({ kind: 'extra', resource: 'thing', name: n, thing: n, detail: `thing ${n} exists only in secondary` });
  const both = [...pNames].filter((n) => sNames.has(n)).sort();
  const chosen = sampleOf(both, options.sample ?? 0).sort();
  const read = { shadows: options.shadows, principals };
  const states = await mapLimit(chosen, options.concurrency, async (n) =>
    Promise.all([readThing(primary, n, read), readThing(secondary, n, read)]),
  );
  const snapshot = async (clients: RegionClients, side: 0 | 1): Promise<FleetSnapshot> => ({
    region: clients.region,
    things: new Map(states.map((pair) => pair[side]).flatMap((t) => (t ? [[t.name, t] as const] : []))),
    thingTypes: await readThingTypes(clients),
    thingGroups: await readThingGroups(clients, options.concurrency),
    certificates: new Map(),
    policies: new Map(),
    provisioning: await readProvisioning(
      clients,
      options.concurrency,
      await readPolicies(clients, options.concurrency, isProvisioningPolicy),
    ),
    scope: { shadows: options.shadows, registry: true, principals },
  });
  const [p, s] = await Promise.all([snapshot(primary, 0), snapshot(secondary, 1)]);
  const drifted = new Set(diffSnapshots(p, s).filter((d) => d.resource === 'thing' || d.resource === 'shadow').map((d) => d.thing));
  const size = chosen.length;
  const share = size ? drifted.size / size : 0;
  return {
    primary: p,
    secondary: s,
    differences,
    estimate: {
      population: both.length,
      size,
      drifted: drifted.size,
      driftPercent: Math.round(share * 10_000) / 100,
      upper95Percent: Math.round(wilsonUpper95(drifted.size, size) * 10_000) / 100,
      estimatedDrifted: Math.round(share * both.length),
    },
  };
}

function printReport(r: VerifyReport, io: CliIo): void {
  const c = r.counts.primary;
  if (r.sample) {
    const e = r.sample;
    writeLine(
      io.stdout,
      `Sampled ${e.size} of the ${e.population} things present in both regions (names, thing types and groups compared in full): ${e.drifted} drifted, ${e.driftPercent} % (95 % upper bound ${e.upper95Percent} %, about ${e.estimatedDrifted} things fleet-wide). Device certificates and policies are not compared in a sample; CA certificates, provisioning templates and claim certificates are compared in full.`,
    );
  }
  writeLine(
    io.stdout,
    `Compared ${r.primaryRegion} (primary) with ${r.secondaryRegion} (secondary): ${c.things} things, ${c.thingTypes} thing types, ${c.thingGroups} thing groups, ${c.certificates} certificates, ${c.policies} policies, ${c.caCertificates} CA certificates, ${c.provisioningTemplates} provisioning templates, ${c.claimCertificates} claim certificates in the primary (${r.seconds}s).`,
  );
  for (const what of r.notCompared ?? []) writeLine(io.stdout, `Not compared: ${what}.`);
  if (r.match) {
    writeLine(io.stdout, 'The regions match.');
    return;
  }
  writeLine(io.stdout, `${r.differences.length} difference(s):`);
  for (const line of summarizeDifferences(r.differences)) writeLine(io.stdout, line);
}

/** Lines shown per thing or policy, and per kind, before the rest is counted (`--json` has all). */
export const SHOWN_PER_RESOURCE = 3;
export const SHOWN_PER_KIND = 20;

/**
 * The text report: differences by kind, each kind listing at most {@link SHOWN_PER_KIND}
 * resources, and each resource (a policy attached to thousands of certificates) at most
 * {@link SHOWN_PER_RESOURCE} lines, followed by how many more there are.
 */
export function summarizeDifferences(differences: readonly Difference[]): string[] {
  const lines: string[] = [];
  const byKind = new Map<string, Map<string, Difference[]>>();
  for (const d of differences) {
    const byResource = byKind.get(d.kind) ?? new Map<string, Difference[]>();
    byKind.set(d.kind, byResource);
    const key = `${d.resource} ${d.name}`;
    byResource.set(key, [...(byResource.get(key) ?? []), d]);
  }
  for (const [kind, byResource] of [...byKind.entries()].sort()) {
    const total = [...byResource.values()].reduce((n, l) => n + l.length, 0);
    lines.push(`  ${kind} (${total})`);
    const resources = [...byResource.entries()];
    let hidden = 0;
    resources.forEach(([key, list], i) => {
      if (i >= SHOWN_PER_KIND) {
        hidden += list.length;
        return;
      }
      for (const d of list.slice(0, SHOWN_PER_RESOURCE)) lines.push(`    ${key}: ${d.detail}`);
      if (list.length > SHOWN_PER_RESOURCE) lines.push(`    ${key}: ... and ${list.length - SHOWN_PER_RESOURCE} more (--json lists all)`);
    });
    if (hidden) {
      lines.push(`    ... and ${hidden} more ${kind} difference(s) on ${resources.length - SHOWN_PER_KIND} other resource(s) (--json lists all)`);
    }
  }
  return lines;
}
