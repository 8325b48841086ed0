/**
 * `iot-dr failback`: the way back after a failover. Checks replication health in both regions,
 * shows what differs between the regions (and what the secondary changed since the failover,
 * `--since`), brings the primary up to date through the replication library (secondary -> primary,
 * conflict policy `merge`: nothing newer in the primary is overwritten), carries whatever the
 * primary holds that is newer back to the secondary so both match, verifies, and says whether DNS
 * may return to the primary. One-way deployments have no other way back; two-way deployments use
 * it to confirm that replication has caught up (and to repair what it missed).
 */
import {
  countByKind,
  diffSnapshots,
  groupLevels,
  mapLimit,
  repairThing,
  snapshotRegion,
  countOutcomes,
  type Difference,
  type FleetSnapshot,
  type RegionClients,
} from '../../functions/lib/fleet';
import { newestTimestamp, syncThingGroup, syncThingType, type Outcome, type ReplicationContext } from '../../functions/lib/replication';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { runContext, type GlobalOptions } from '../context';
import { EXIT, UsageError } from '../errors';
import { writeLine, type CliIo } from '../io';
import { progressFor } from '../progress';
import { replicationHealth, type HealthCheck } from '../replication-health';

export interface FailbackOptions extends GlobalOptions {
  /** When the failover happened: ISO 8601 time or epoch seconds. */
  readonly since?: string;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly concurrency: number;
  readonly prefix?: string;
  readonly query?: string;
  /** Bring the primary up to date even when replication health needs attention. */
  readonly force: boolean;
}

/** A difference, with whether the secondary changed it after `--since`. */
export interface FailbackChange extends Difference {
  /** `secondary`: the secondary changed it since the failover; `primary`: the primary holds the newer data; `unknown`: no timestamp says. */
  readonly changedIn: 'secondary' | 'primary' | 'unknown';
  /** Shadows: epoch seconds of the secondary's newest field. */
  readonly secondaryWrittenAt?: number;
}

/** What `failback --json` prints. */
export interface FailbackReport {
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly direction: 'two-way' | 'one-way';
  readonly since: string | null;
  readonly dryRun: boolean;
  readonly health: readonly HealthCheck[];
  readonly healthy: boolean;
  /** Differences before the failback, primary vs secondary. */
  readonly changes: readonly FailbackChange[];
  /** Outcome counts of the writes (kind -> action -> n), both passes. */
  readonly outcomes: Record<string, Record<string, number>>;
  readonly failures: ReadonlyArray<{ readonly resource: string; readonly name: string; readonly error: string }>;
  /** Differences left after the failback (verify). Empty on a dry run only when there were none. */
  readonly remaining: readonly Difference[];
  readonly remainingByKind: Record<string, number>;
  /** Whether DNS may return to the primary. */
  readonly safeToFailBack: boolean;
  readonly verdict: string;
  readonly seconds: number;
}

/** `--since`: ISO 8601 or epoch seconds; returns epoch seconds. */
export function parseSince(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  const seconds = /^\d{9,11}$/.test(trimmed) ? Number(trimmed) : Date.parse(trimmed) / 1000;
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new UsageError(`--since must be an ISO 8601 time (e.g. 2026-12-01T03:00:00Z) or epoch seconds (got "${raw}")`);
  }
  if (seconds * 1000 > Date.now() + 60_000) throw new UsageError(`--since must not be in the future (got "${raw}")`);
  return Math.floor(seconds);
}

const errorText = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/** The secondary's newest field time of a shadow (epoch seconds), when it has the shadow. */
async function shadowWrittenAt(clients: RegionClients, thing: string, shadowName: string): Promise<number | undefined> {
  try {
    const out = await clients.data.send(new GetThingShadowCommand({ thingName: thing, shadowName: shadowName || undefined }));
    const doc = JSON.parse(Buffer.from(out.payload as Uint8Array).toString('utf8')) as { metadata?: unknown };
    const t = newestTimestamp(doc.metadata);
    return Number.isFinite(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** Labels each difference with the region that changed it, where timestamps tell. */
async function classify(differences: readonly Difference[], secondary: RegionClients, since: number | undefined, concurrency: number): Promise<FailbackChange[]> {
  return mapLimit([...differences], concurrency, async (d): Promise<FailbackChange> => {
    if (d.kind === 'extra') return { ...d, changedIn: 'secondary' }; // only the secondary has it
    if (d.resource === 'shadow' && since !== undefined) {
      const [thing, ...rest] = d.name.split('/');
      const at = await shadowWrittenAt(secondary, thing, rest.join('/'));
      if (at === undefined) return { ...d, changedIn: 'unknown' };
      return { ...d, changedIn: at >= since ? 'secondary' : 'primary', secondaryWrittenAt: at };
    }
    return { ...d, changedIn: 'unknown' };
  });
}

const thingOf = (d: Difference): string | undefined => d.thing ?? (d.resource === 'thing' ? d.name : d.resource === 'shadow' ? d.name.split('/')[0] : undefined);

export async function failbackCommand(options: FailbackOptions, io: CliIo): Promise<number> {
  const since = parseSince(options.since);
  const run = runContext(options, io);
  const started = Date.now();
  const note = (line: string) => {
    if (!options.quiet && !options.json) writeLine(io.stderr, line);
  };
  try {
    const { config } = run;
    // The library's two directions over the same (rate-limited) clients: secondary -> primary is
    // the failback itself; primary -> secondary carries what the primary holds newer back.
    const back: ReplicationContext = {
      ...run.ctx,
      originRegion: run.ctx.targetRegion,
      targetRegion: run.ctx.originRegion,
      origin: run.ctx.target,
      target: run.ctx.origin,
      conflicts: 'merge',
      // After a failover the secondary's registry is the reference: what it no longer has goes.
      originDeleted: true,
      restoreMembershipsOnCreate: true,
    };
    const forth: ReplicationContext = { ...run.ctx, conflicts: 'merge', originDeleted: false, restoreMembershipsOnCreate: true };

    note(`Checking replication health in ${config.primaryRegion} and ${config.secondaryRegion}...`);
    const endpoint = options.endpoint ?? io.env.IOT_DR_AWS_ENDPOINT;
    const health = await replicationHealth(config, { endpoint });
    // 'unknown' (a metric that cannot be read) warns but does not block; 'attention' blocks without --force.
    const healthy = health.every((h) => h.status !== 'attention');
    if (since === undefined) note('No --since given: shadows only the primary has are kept (give the failover time to remove those the secondary deleted during the outage).');

    const scope = {
      filter: { prefix: options.prefix, query: options.query },
      concurrency: options.concurrency,
      principals: config.replication.mode === 'complete',
    };
    note('Comparing both regions...');
    const snapshot = async (): Promise<[FleetSnapshot, FleetSnapshot]> =>
      Promise.all([snapshotRegion(run.primary, scope), snapshotRegion(run.secondary, scope)]);
    const [p0, s0] = await snapshot();
    const changes = await classify(diffSnapshots(p0, s0), run.secondary, since, options.concurrency);

    const outcomes: Record<string, Record<string, number>> = {};
    const failures: Array<{ resource: string; name: string; error: string }> = [];
    let remaining: Difference[] = changes;
    const mayWrite = !options.dryRun && (healthy || options.force);
    if (mayWrite && changes.length) {
      const progress = progressFor(io.stderr, options.quiet || options.json);
      const attempt = async (resource: string, name: string, work: () => Promise<Outcome[]>) => {
        try {
          countOutcomes(await work(), outcomes);
        } catch (err) {
          failures.push({ resource, name, error: errorText(err) });
        }
        progress.tick();
      };
      // 1. Thing types and groups the regions disagree on (parents before children).
      const types = [...new Set(changes.filter((c) => c.resource === 'thingType').map((c) => c.name))].sort();
      progress.start(types.length, 'thing types');
      await mapLimit(types, options.concurrency, (t) => attempt('thingType', t, () => syncThingType(back, t)));
      progress.stop();
      const groupNames = new Set(changes.filter((c) => c.resource === 'thingGroup').map((c) => c.name));
      const ordered = groupLevels(s0.thingGroups).flat().filter((g) => groupNames.has(g));
      const primaryOnly = [...groupNames].filter((g) => !s0.thingGroups.has(g)).sort();
      progress.start(ordered.length + primaryOnly.length, 'thing groups');
      for (const g of ordered) await attempt('thingGroup', g, () => syncThingGroup(back, g));
      for (const g of primaryOnly) await attempt('thingGroup', g, () => syncThingGroup(back, g));
      progress.stop();
      // 2. Each thing with a difference: secondary -> primary, then primary -> secondary (merge both ways).
      const things = [...new Set(changes.map(thingOf).filter((t): t is string => !!t))].sort();
      progress.start(things.length, 'things (secondary -> primary)');
      await mapLimit(things, options.concurrency, (t) => attempt('thing', t, () => repairThing(back, t, { staleBefore: since })));
      progress.stop();
      note('Verifying both regions...');
      const [p1, s1] = await snapshot();
      remaining = diffSnapshots(p1, s1);
      // What still differs is what the primary holds newer (kept by the merge rule): carried to
      // the secondary, so that both regions match. Usually nothing, so usually no second pass.
      const newer = [...new Set(remaining.map(thingOf).filter((t): t is string => !!t))].sort();
      if (newer.length) {
        progress.start(newer.length, 'things (newer in the primary -> secondary)');
        await mapLimit(newer, options.concurrency, (t) => attempt('thing', t, () => repairThing(forth, t)));
        progress.stop();
        note('Verifying both regions again...');
        const [p2, s2] = await snapshot();
        remaining = diffSnapshots(p2, s2);
      }
    }

    const safe = healthy && remaining.length === 0 && failures.length === 0 && !options.dryRun;
    const verdict = verdictText({ safe, healthy, dryRun: options.dryRun, force: options.force, changes: changes.length, remaining: remaining.length, failures: failures.length });
    const report: FailbackReport = {
      primaryRegion: config.primaryRegion,
      secondaryRegion: config.secondaryRegion,
      direction: config.replication.direction,
      since: since === undefined ? null : new Date(since * 1000).toISOString(),
      dryRun: options.dryRun,
      health,
      healthy,
      changes,
      outcomes,
      failures,
      remaining,
      remainingByKind: countByKind(remaining),
      safeToFailBack: safe,
      verdict,
      seconds: Math.round((Date.now() - started) / 10) / 100,
    };
    if (options.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else print(report, io);
    if (options.dryRun) return EXIT.OK;
    return safe ? EXIT.OK : EXIT.DIFFERENCES;
  } finally {
    await run.limiter.stop();
  }
}

const HOLD = 'aws route53 update-health-check --health-check-id "$(terraform output -raw health_check_primary_id)" --inverted';
const RELEASE = 'aws route53 update-health-check --health-check-id "$(terraform output -raw health_check_primary_id)" --no-inverted';

function verdictText(r: { safe: boolean; healthy: boolean; dryRun: boolean; force: boolean; changes: number; remaining: number; failures: number }): string {
  if (r.dryRun) {
    return `Dry run: nothing was written. ${r.changes} difference(s) to bring back. Hold DNS on the secondary until a real run says it is safe: ${HOLD}`;
  }
  if (r.safe) {
    return `SAFE: the primary is up to date and both regions match. DNS returns to the primary as soon as its Route 53 health check passes; if you held it on the secondary, release it now: ${RELEASE}`;
  }
  const reasons = [
    ...(r.healthy ? [] : [`replication health needs attention${r.force ? '' : ' (nothing was written; fix it, or pass --force)'}`]),
    ...(r.failures ? [`${r.failures} item(s) failed`] : []),
    ...(r.remaining ? [`${r.remaining} difference(s) remain`] : []),
  ];
  return `NOT SAFE: ${reasons.join('; ')}. Keep DNS on the secondary (the primary's health check then reports unhealthy whatever the primary answers): ${HOLD} — then run iot-dr failback again.`;
}

function print(r: FailbackReport, io: CliIo): void {
  const out = io.stdout;
  writeLine(out, `Failback ${r.secondaryRegion} -> ${r.primaryRegion} (${r.direction} replication)${r.since ? `, failover at ${r.since}` : ''}:`);
  writeLine(out, 'Replication health:');
  for (const h of r.health) writeLine(out, `  ${h.status.padEnd(9)} ${h.check.padEnd(15)} ${h.region} ${h.resource}: ${h.detail}`);
  const bySide = (side: FailbackChange['changedIn']) => r.changes.filter((c) => c.changedIn === side);
  writeLine(out, `${r.changes.length} difference(s) between the regions before the failback${r.since ? ` (${bySide('secondary').length} changed in the secondary since the failover)` : ''}:`);
  for (const c of r.changes) writeLine(out, `  ${c.changedIn.padEnd(9)} ${c.kind.padEnd(10)} ${c.resource} ${c.name}: ${c.detail}`);
  for (const kind of Object.keys(r.outcomes).sort()) {
    const actions = Object.entries(r.outcomes[kind])
      .sort()
      .map(([a, n]) => `${a} ${n}`)
      .join(', ');
    writeLine(out, `  wrote ${kind.padEnd(12)} ${actions}`);
  }
  for (const f of r.failures) writeLine(out, `  failed ${f.resource} ${f.name}: ${f.error}`);
  if (!r.dryRun) {
    writeLine(out, r.remaining.length ? `${r.remaining.length} difference(s) remain after the failback:` : `Verified: the regions match (${r.seconds}s).`);
    for (const d of r.remaining) writeLine(out, `  ${d.kind} ${d.resource} ${d.name}: ${d.detail}`);
  }
  writeLine(out, r.verdict);
}
