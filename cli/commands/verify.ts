/** `iot-dr verify`: snapshots both regions, diffs them and reports every difference by kind. */
import {
  countByKind,
  diffSnapshots,
  snapshotRegion,
  type Difference,
  type FleetSnapshot,
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
}

const sizes = (s: FleetSnapshot) => ({
  things: s.things.size,
  thingTypes: s.thingTypes.size,
  thingGroups: s.thingGroups.size,
  certificates: s.certificates.size,
  policies: s.policies.size,
});

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
    const [p, s] = await Promise.all([snapshotRegion(run.primary, snapshot), snapshotRegion(run.secondary, snapshot)]);
    const differences = diffSnapshots(p, s);
    const report: VerifyReport = {
      match: differences.length === 0,
      primaryRegion: p.region,
      secondaryRegion: s.region,
      counts: { primary: sizes(p), secondary: sizes(s) },
      differencesByKind: countByKind(differences),
      differences,
      seconds: Math.round((Date.now() - started) / 10) / 100,
    };
    if (options.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else printReport(report, io);
    return report.match ? EXIT.OK : EXIT.DIFFERENCES;
  } finally {
    await run.limiter.stop();
  }
}

function printReport(r: VerifyReport, io: CliIo): void {
  const c = r.counts.primary;
  writeLine(
    io.stdout,
    `Compared ${r.primaryRegion} (primary) with ${r.secondaryRegion} (secondary): ${c.things} things, ${c.thingTypes} thing types, ${c.thingGroups} thing groups, ${c.certificates} certificates, ${c.policies} policies in the primary (${r.seconds}s).`,
  );
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
