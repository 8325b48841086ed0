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
  const byKind = new Map<string, Difference[]>();
  for (const d of r.differences) byKind.set(d.kind, [...(byKind.get(d.kind) ?? []), d]);
  writeLine(io.stdout, `${r.differences.length} difference(s):`);
  for (const [kind, list] of [...byKind.entries()].sort()) {
    writeLine(io.stdout, `  ${kind} (${list.length})`);
    for (const d of list) writeLine(io.stdout, `    ${d.resource} ${d.name}: ${d.detail}`);
  }
}
