/**
 * `iot-dr copy`: copies an existing fleet from the primary to the secondary through the
 * replication library (the one implementation of every copy rule), with bounded concurrency,
 * per-API rate limits, a resumable checkpoint, a dry run and a summary.
 */
import { resolve } from 'node:path';
import { paginateListCertificates, paginateListPolicies, paginateListThingTypes } from '@aws-sdk/client-iot';
import {
  countOutcomes,
  diffSnapshots,
  groupLevels,
  listThings,
  mapLimit,
  IndexedOrigin,
  readThingGroups,
  repairThing,
  searchThingPages,
  snapshotRegion,
  syncProvisioning,
  thingIndexing,
  type IndexedThing,
  type ThingFilter,
  type ThingIndexing,
} from '../../functions/lib/fleet';
import {
  syncCertificate,
  syncPolicy,
  syncThingGroup,
  syncThingType,
  type Outcome,
} from '../../functions/lib/replication';
import { Checkpoint } from '../checkpoint';
import { runContext, type GlobalOptions, type RunContext } from '../context';
import { EXIT, ExternalError } from '../errors';
import { writeLine, type CliIo } from '../io';
import { PolicyReadCache } from '../policy-cache';
import { progressFor, type Progress } from '../progress';
import { quotaCeiling, type QuotaCeiling } from '../rate-limits';

export interface CopyOptions extends GlobalOptions {
  readonly concurrency: number;
  readonly checkpoint: string;
  readonly dryRun: boolean;
  readonly prefix?: string;
  readonly query?: string;
  readonly json: boolean;
  readonly quiet: boolean;
  /** Copy at most this many things in this run; the checkpoint keeps the rest for the next run. */
  readonly limit?: number;
  /**
   * How the things are read from the primary: `index` through fleet indexing (SearchIndex),
   * `api` with per-thing calls, `auto` (default) the index when thing indexing is on.
   */
  readonly readMode?: ReadMode;
}

export type ReadMode = 'auto' | 'index' | 'api';

/** How phase 4 read the things, and what it cost. */
export interface ThingPhase {
  /** `index`: SearchIndex pages; `api`: ListThings and per-thing reads. */
  readonly readMode: 'index' | 'api';
  /** Why (the indexing configuration, or the option). */
  readonly reason: string;
  /** The primary's thing indexing, when it was read. */
  readonly indexing?: ThingIndexing;
  /** Things the phase copied. */
  readonly things: number;
  /** API calls the phase made (both regions, retries included), by operation. */
  readonly apiCalls: Record<string, number>;
  /** All of them, per thing copied. */
  readonly callsPerThing: number;
  /** Calls answered without AWS, by operation: from the fleet index, and GetPolicy from the run's cache. */
  readonly answeredLocally: Record<string, number>;
}

/** One item that could not be copied. */
export interface CopyFailure {
  readonly resource:
    | 'thingType'
    | 'thingGroup'
    | 'thing'
    | 'certificate'
    | 'policy'
    | 'caCertificate'
    | 'provisioningTemplate'
    | 'claimCertificate';
  readonly name: string;
  readonly error: string;
}

/** What `copy --json` prints. */
export interface CopySummary {
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly mode: string;
  readonly dryRun: false;
  readonly resumed: boolean;
  readonly skippedFromCheckpoint: number;
  readonly things: number;
  readonly thingsCopied: number;
  /**
   * Things left for a later run (`--limit`, interruption, failures). An interrupted copy in index
   * mode counts only the things of the pages it had read.
   */
  readonly thingsRemaining: number;
  readonly seconds: number;
  readonly thingsPerSecond: number;
  /** Outcome counts: kind → action → count. */
  readonly outcomes: Record<string, Record<string, number>>;
  readonly failures: readonly CopyFailure[];
  /** Items the library skipped on purpose, with its reason (e.g. a thing group whose parent differs). */
  readonly skipped: readonly Outcome[];
  readonly interrupted: boolean;
  /** API calls by operation (both regions). */
  readonly apiCalls: Record<string, number>;
  /** API calls by `region:Operation` (each region has its own quotas). */
  readonly apiCallsByRegion: Record<string, number>;
  /**
   * The quota that bound this run: the (region, operation) whose calls needed the most time at
   * the allowed TPS (`--rate-limit` share of the quota; the whole quota at 0), and the things/s
   * it allows. Compare with `thingsPerSecond`.
   */
  readonly quotaCeiling?: QuotaCeiling;
  /** Phase 4 (things): read mode and API calls per thing. */
  readonly thingPhase?: ThingPhase;
}

const asArray = (o: Outcome | Outcome[] | undefined): Outcome[] => (o === undefined ? [] : Array.isArray(o) ? o : [o]);

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Where phase 4 reads things from. */
type ThingSource =
  | { readonly mode: 'api'; readonly reason: string }
  | { readonly mode: 'index'; readonly reason: string; readonly indexing: ThingIndexing; readonly pageSize?: number };

/**
 * `--read-mode`: `api` never reads the index; `auto` reads it when the primary's thing indexing
 * is on (GetIndexingConfiguration), per-thing calls otherwise (also when the configuration cannot
 * be read); `index` requires it. The environment variable IOT_DR_SEARCH_PAGE_SIZE (tests) makes
 * the pages smaller than AWS's 100.
 */
async function thingSource(run: RunContext, options: CopyOptions, env: NodeJS.ProcessEnv): Promise<ThingSource> {
  const mode = options.readMode ?? 'auto';
  if (mode === 'api') return { mode: 'api', reason: '--read-mode api' };
  let indexing: ThingIndexing;
  try {
    indexing = await thingIndexing(run.primary);
  } catch (err) {
    if (mode === 'index') throw new ExternalError(`--read-mode index: cannot read the indexing configuration of ${run.primary.region}: ${errorText(err)}`, { cause: err });
    return { mode: 'api', reason: `indexing configuration unreadable (${errorText(err)})` };
  }
  if (!indexing.registry) {
    if (mode === 'index')
      throw new ExternalError(
        `--read-mode index: thing indexing is OFF in ${run.primary.region} (GetIndexingConfiguration thingIndexingMode); turn it on (REGISTRY or REGISTRY_AND_SHADOW) or use --read-mode api`,
      );
    return { mode: 'api', reason: `thing indexing is OFF in ${run.primary.region}` };
  }
  const pageSize = Number(env.IOT_DR_SEARCH_PAGE_SIZE) || undefined;
  const what = [
    indexing.classicShadow ? 'REGISTRY_AND_SHADOW' : 'REGISTRY',
    indexing.namedShadows.length ? `named shadows ${indexing.namedShadows.join(', ')}` : '',
  ].filter(Boolean);
  return { mode: 'index', reason: `${mode === 'index' ? '--read-mode index' : 'thing indexing is on'} (${what.join('; ')})`, indexing, ...(pageSize ? { pageSize } : {}) };
}

/** Runs `fn` over an async sequence with at most `limit` in flight; stops taking items once `stop()`. */
async function forEachLimit<T>(items: AsyncIterable<T>, limit: number, stop: () => boolean, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.asyncIterator]();
  await Promise.all(
    Array.from({ length: Math.max(1, limit) }, async () => {
      while (!stop()) {
        const next = await it.next();
        if (next.done) return;
        await fn(next.value);
      }
    }),
  );
}

export async function copyCommand(options: CopyOptions, io: CliIo): Promise<number> {
  const run = runContext(options, io);
  try {
    return options.dryRun ? await dryRun(run, options, io) : await copy(run, options, io);
  } finally {
    await run.limiter.stop();
  }
}

async function dryRun(run: RunContext, options: CopyOptions, io: CliIo): Promise<number> {
  const filter: ThingFilter = { prefix: options.prefix, query: options.query };
  const snapshot = { filter, concurrency: options.concurrency, principals: run.config.replication.mode === 'complete' };
  const [p, s] = await Promise.all([snapshotRegion(run.primary, snapshot), snapshotRegion(run.secondary, snapshot)]);
  const differences = diffSnapshots(p, s);
  const plan = differences.map((d) => ({
    ...d,
    action:
      d.kind === 'extra'
        ? 'left alone (copy does not delete what exists only in the secondary)'
        : d.kind === 'missing'
          ? 'create'
          : 'update',
  }));
  if (options.json) {
    writeLine(
      io.stdout,
      JSON.stringify(
        { dryRun: true, primaryRegion: p.region, secondaryRegion: s.region, things: p.things.size, changes: plan },
        null,
        2,
      ),
    );
  } else {
    writeLine(
      io.stdout,
      `Dry run: nothing was written. ${p.things.size} thing(s) in ${p.region}; ${plan.length} change(s) a copy would make in ${s.region}:`,
    );
    for (const c of plan)
      writeLine(io.stdout, `  ${c.action.split(' ')[0].padEnd(7)} ${c.resource} ${c.name}: ${c.detail}`);
  }
  return EXIT.OK;
}

async function copy(run: RunContext, options: CopyOptions, io: CliIo): Promise<number> {
  const started = Date.now();
  const checkpointFile = resolve(io.cwd, options.checkpoint);
  const checkpoint = Checkpoint.open(checkpointFile, {
    primaryRegion: run.config.primaryRegion,
    secondaryRegion: run.config.secondaryRegion,
    mode: run.config.replication.mode,
    prefix: options.prefix ?? null,
    query: options.query ?? null,
  });
  const progress: Progress = progressFor(io.stderr, options.quiet || options.json);
  const outcomes: Record<string, Record<string, number>> = {};
  const failures: CopyFailure[] = [];
  // Certificates and policies the things brought along: not synced again in phases 4 and 5.
  const seen = { certificate: new Set<string>(), policy: new Set<string>() };
  const skipped: Outcome[] = [];
  const count = (list: Outcome[]) => {
    countOutcomes(list, outcomes);
    for (const o of list) if (o.action === 'skipped' && o.detail && skipped.length < 1000) skipped.push(o);
    for (const o of list) if (o.kind === 'certificate' || o.kind === 'policy') seen[o.kind].add(o.name);
  };
  const aborted = () => io.signal?.aborted === true;
  const note = (line: string) => {
    if (!options.quiet && !options.json) writeLine(io.stderr, line);
  };
  if (checkpoint.resumed) note(`Resuming from ${checkpointFile}: ${checkpoint.done.size} thing(s) already copied.`);
  // Policies are shared by thousands of things: each is read once per region and run.
  const policyCache = new PolicyReadCache();
  policyCache.attach(run.ctx.origin.iot as never, 'origin');
  policyCache.attach(run.ctx.target.iot as never, 'target');
  // Syncs each name (bounded concurrency), counting outcomes and recording failures; once
  // interrupted, names not yet started are left for the next run.
  const syncEach = (
    names: readonly string[],
    resource: CopyFailure['resource'],
    sync: (name: string) => Promise<Outcome[]>,
  ) =>
    mapLimit(names, options.concurrency, async (name) => {
      if (aborted()) return;
      try {
        count(await sync(name));
      } catch (err) {
        failures.push({ resource, name, error: errorText(err) });
      }
      progress.tick();
    });

  // 1. Thing types (things reference them).
  if (!checkpoint.phases.thingTypes) {
    const types: string[] = [];
    for await (const page of paginateListThingTypes({ client: run.primary.iot }, {})) {
      for (const t of page.thingTypes ?? []) if (t.thingTypeName) types.push(t.thingTypeName);
    }
    progress.start(types.length, 'thing types');
    await syncEach(types, 'thingType', async (name) => asArray(await syncThingType(run.ctx, name)));
    progress.stop();
    if (!aborted() && !failures.length) checkpoint.markPhase('thingTypes');
  }

  // 2. Thing groups, parents first (hierarchy).
  let staticGroups: ReadonlySet<string> | undefined;
  if (!checkpoint.phases.thingGroups && !aborted()) {
    const groups = await readThingGroups(run.primary, options.concurrency);
    staticGroups = new Set(groups.keys());
    const before = failures.length;
    progress.start(groups.size, 'thing groups');
    for (const level of groupLevels(groups)) {
      await syncEach(level, 'thingGroup', async (name) => asArray(await syncThingGroup(run.ctx, name)));
    }
    progress.stop();
    if (!aborted() && failures.length === before) checkpoint.markPhase('thingGroups');
  }

  // 3. Policies first, in a whole-fleet copy in complete mode: many things share one policy, and
  // syncing it once here keeps concurrent things from racing to create its versions.
  if (
    run.config.replication.mode === 'complete' &&
    !options.prefix &&
    !options.query &&
    !checkpoint.phases.policies &&
    !aborted()
  ) {
    const before = failures.length;
    const policies: string[] = [];
    for await (const page of paginateListPolicies({ client: run.primary.iot, pageSize: 250 }, {})) {
      for (const p of page.policies ?? []) if (p.policyName) policies.push(p.policyName);
    }
    progress.start(policies.length, 'policies');
    await syncEach(policies, 'policy', async (name) => [await syncPolicy(run.ctx, name)]);
    progress.stop();
    if (!aborted() && failures.length === before) checkpoint.markPhase('policies');
  }

  // 3b. Provisioning readiness (both modes, whole-fleet copy): provisioning templates, CA
  // certificates (JITR/JITP) and claim certificates with their policies, before the things, so
  // devices can register themselves in the secondary during a failover.
  if (!options.prefix && !options.query && !checkpoint.phases.provisioning && !aborted()) {
    progress.start(1, 'provisioning');
    const result = await syncProvisioning(run.ctx);
    count(result.outcomes);
    for (const e of result.errors) {
      const [resource, ...rest] = e.name.split('/');
      failures.push({ resource: resource as CopyFailure['resource'], name: rest.join('/'), error: e.error });
    }
    progress.tick();
    progress.stop();
    if (!aborted() && !result.errors.length) checkpoint.markPhase('provisioning');
  }

  // 4. Things, with certificates, policies, attachments, memberships and shadows: read through
  // fleet indexing when it is on (SearchIndex pages), else with ListThings and per-thing calls.
  const callsBefore = new Map(run.limiter.calls);
  const source = aborted() ? ({ mode: 'api', reason: 'interrupted' } as const) : await thingSource(run, options, io.env);
  const names: string[] = [];
  let copied = 0;
  let taken = 0;
  const copyThing = async (name: string) => {
    try {
      count(await repairThing(run.ctx, name));
      checkpoint.markDone(name);
      copied++;
    } catch (err) {
      failures.push({ resource: 'thing', name, error: errorText(err) });
    }
  };
  let lastSave = Date.now();
  const work = async (name: string) => {
    await copyThing(name);
    progress.tick();
    if (Date.now() - lastSave > 1000) {
      lastSave = Date.now();
      checkpoint.save();
    }
  };
  // Whether this run copies the thing (not done according to the checkpoint, within --limit).
  const selects = (name: string) => {
    if (checkpoint.done.has(name) || (options.limit !== undefined && taken >= options.limit)) return false;
    taken++;
    return true;
  };
  let origin: IndexedOrigin | undefined;
  if (source.mode === 'index') {
    // Pages stream: a thing's document is used seconds after it was read, and only the pages in
    // flight are held in memory. The next page is fetched while this one is copied.
    const { indexing, pageSize } = source;
    origin = new IndexedOrigin(indexing, staticGroups ?? new Set((await readThingGroups(run.primary, options.concurrency)).keys()));
    origin.attach(run.ctx.origin);
    const held = origin;
    progress.start(0, 'things (fleet index)');
    async function* selected(): AsyncGenerator<IndexedThing> {
      const pages = searchThingPages(run.primary, options.query ?? 'thingName:*', indexing, pageSize)[Symbol.asyncIterator]();
      let next = pages.next();
      for (;;) {
        const page = await next;
        if (page.done) return;
        next = pages.next();
        next.catch(() => undefined); // awaited on the next turn; an interrupted copy never awaits it
        for (const t of page.value) {
          if (options.prefix && !t.name.startsWith(options.prefix)) continue;
          names.push(t.name);
          if (!selects(t.name)) continue;
          progress.setTotal(taken);
          yield t;
        }
      }
    }
    await forEachLimit(selected(), options.concurrency, aborted, async (t) => {
      held.hold([t]);
      try {
        await work(t.name);
      } finally {
        held.release(t.name);
      }
    });
  } else {
    for await (const t of listThings(run.primary, { prefix: options.prefix, query: options.query })) names.push(t.name);
    const todo = names.filter(selects);
    progress.start(todo.length, 'things');
    await mapLimit(todo, options.concurrency, async (name) => {
      if (aborted()) return;
      await work(name);
    });
  }
  progress.stop();
  const thingPhaseCalls = Object.fromEntries(
    [...run.limiter.calls.entries()].map(([op, n]) => [op, n - (callsBefore.get(op) ?? 0)] as const).filter(([, n]) => n > 0).sort(),
  );

  // Things that failed get one more, sequential, try: concurrent things share certificates and
  // policies, and a conflict between two of them is usually gone a moment later.
  const retry = failures.filter((f) => f.resource === 'thing').map((f) => f.name);
  if (retry.length && !aborted()) {
    for (const f of failures.filter((x) => x.resource === 'thing')) failures.splice(failures.indexOf(f), 1);
    for (const name of retry) await copyThing(name);
  }

  // 5. Certificates no thing uses (a whole-fleet copy in complete mode only: a
  // filtered copy brings exactly the certificates and policies of the things it selects).
  const allThingsDone = names.every((n) => checkpoint.done.has(n));
  if (run.config.replication.mode === 'complete' && !options.prefix && !options.query && !aborted() && allThingsDone) {
    const certificates: string[] = [];
    for await (const page of paginateListCertificates({ client: run.primary.iot, pageSize: 250 }, {})) {
      for (const c of page.certificates ?? [])
        if (c.certificateId && !seen.certificate.has(c.certificateId)) certificates.push(c.certificateId);
    }
    progress.start(certificates.length, 'certificates');
    await syncEach(certificates, 'certificate', async (id) => (await syncCertificate(run.ctx, id)).outcomes);
    progress.stop();
  }

  const interrupted = aborted();
  const remaining = names.filter((n) => !checkpoint.done.has(n)).length;
  if (interrupted || failures.length || remaining) checkpoint.save(true);
  else checkpoint.remove();

  const seconds = (Date.now() - started) / 1000;
  const summary: CopySummary = {
    primaryRegion: run.config.primaryRegion,
    secondaryRegion: run.config.secondaryRegion,
    mode: run.config.replication.mode,
    dryRun: false,
    resumed: checkpoint.resumed,
    skippedFromCheckpoint: names.length - taken,
    things: names.length,
    thingsCopied: copied,
    thingsRemaining: remaining,
    seconds: Math.round(seconds * 100) / 100,
    thingsPerSecond: seconds > 0 ? Math.round((copied / seconds) * 10) / 10 : 0,
    outcomes,
    failures: failures.sort((a, b) => a.resource.localeCompare(b.resource) || a.name.localeCompare(b.name)),
    skipped,
    interrupted,
    apiCalls: Object.fromEntries([...run.limiter.calls.entries()].sort()),
    apiCallsByRegion: Object.fromEntries([...run.limiter.callsByKey.entries()].sort()),
    quotaCeiling: quotaCeiling(Object.fromEntries(run.limiter.callsByKey), copied, options.rateLimit, options.quota),
    thingPhase: {
      readMode: source.mode,
      reason: source.reason,
      ...(source.mode === 'index' ? { indexing: source.indexing } : {}),
      things: copied,
      apiCalls: thingPhaseCalls,
      callsPerThing: copied ? Math.round((Object.values(thingPhaseCalls).reduce((a, b) => a + b, 0) / copied) * 100) / 100 : 0,
      answeredLocally: Object.fromEntries(
        [...(origin?.answered.entries() ?? []), ...(policyCache.answered ? [['GetPolicy (run cache)', policyCache.answered] as const] : [])].sort(),
      ),
    },
  };
  if (options.json) writeLine(io.stdout, JSON.stringify(summary, null, 2));
  else printSummary(summary, checkpointFile, io);
  if (interrupted) return EXIT.INTERRUPTED;
  return failures.length ? EXIT.DIFFERENCES : EXIT.OK;
}

const round = (n: number) => Math.round(n * 100) / 100;

function printSummary(s: CopySummary, checkpointFile: string, io: CliIo): void {
  const out = io.stdout;
  writeLine(
    out,
    `Copied ${s.thingsCopied} of ${s.things} thing(s) from ${s.primaryRegion} to ${s.secondaryRegion} (${s.mode}) in ${s.seconds}s (${s.thingsPerSecond} things/s).`,
  );
  if (s.quotaCeiling)
    writeLine(
      out,
      `Binding quota: ${s.quotaCeiling.operation} in ${s.quotaCeiling.region} (${round(s.quotaCeiling.callsPerThing)} call(s) per thing at ${s.quotaCeiling.tps} TPS): at most ${round(s.quotaCeiling.thingsPerSecond)} things/s at this rate limit.`,
    );
  if (s.thingPhase) {
    const local = Object.entries(s.thingPhase.answeredLocally).map(([op, n]) => `${op} ${n}`);
    writeLine(
      out,
      `Things read ${s.thingPhase.readMode === 'index' ? 'through fleet indexing (SearchIndex)' : 'with per-thing calls'}: ${s.thingPhase.reason}; ${s.thingPhase.callsPerThing} API call(s) per thing${local.length ? `; answered without AWS: ${local.join(', ')}` : ''}.`,
    );
  }
  if (s.skippedFromCheckpoint)
    writeLine(out, `Skipped ${s.skippedFromCheckpoint} thing(s) already copied according to the checkpoint.`);
  for (const kind of Object.keys(s.outcomes).sort()) {
    const actions = Object.entries(s.outcomes[kind])
      .sort()
      .map(([a, n]) => `${a} ${n}`)
      .join(', ');
    writeLine(out, `  ${kind.padEnd(12)} ${actions}`);
  }
  if (s.skipped.length) {
    writeLine(out, `${s.skipped.length} item(s) skipped by the replication library (left for you to decide):`);
    for (const o of s.skipped) writeLine(out, `  ${o.kind} ${o.name}: ${o.detail}`);
  }
  if (s.thingsRemaining && !s.interrupted)
    writeLine(
      out,
      `${s.thingsRemaining} thing(s) remain; run the same command again to continue from ${checkpointFile}.`,
    );
  if (s.failures.length) {
    writeLine(
      out,
      `${s.failures.length} item(s) failed (run copy again to retry them; the checkpoint ${checkpointFile} skips what is done):`,
    );
    for (const f of s.failures) writeLine(out, `  ${f.resource} ${f.name}: ${f.error}`);
  }
  if (s.interrupted)
    writeLine(out, `Interrupted: progress saved in ${checkpointFile}; run the same command again to resume.`);
}
