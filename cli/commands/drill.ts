/**
 * `iot-dr drill`: a disaster-recovery drill on this machine, with no AWS account.
 *
 * 1. moto server (both regions) and one MQTT broker per region (aedes over WebSocket, loopback);
 * 2. a fleet seeded in the primary, and its registry/shadow events in the documented shapes, in the
 *    primary's copy of the replication table (moto has no global tables: one copy per region);
 * 3. replication in the shape the stack deploys (cli/drill/pipeline.ts): the events as replica-stream
 *    batches of `replication.batchSize` through the trigger's batch processing, with
 *    `replication.workflowType` EXPRESS one synchronous Express execution of the batch workflow per
 *    batch plus the Standard slow lane, with STANDARD one Standard execution per event (the ASL of
 *    stacks/workflow-definition.ts on a local Step Functions endpoint), the real worker bodies, the
 *    failure table and DLQ in moto;
 * 4. `verify` (fleet snapshot and diff of both regions);
 * 5. the canary path (default mode): the real canary against each region's broker, datapoints
 *    into moto CloudWatch on a virtual clock, each region's alarm evaluated every minute by
 *    CloudWatch's documented rules; the primary's broker is taken down and the time until the
 *    alarm decides the failover is shown (cli/drill/canary.ts);
 * 6. the API-mode path: the real health-check handler against each region's broker; the checks
 *    repeat until Route 53's rule (`failureThreshold` consecutive failures) marks the primary
 *    unhealthy, and the failover decision is shown;
 * 7. failback: during the outage devices and an operator change the secondary (classic and named
 *    shadows, a new thing put in a group; writes captured as the secondary's capture rules would,
 *    cli/drill/capture.ts); the primary comes back with DNS held on the secondary; two-way
 *    replication (the reverse direction's pipeline, deployed in the primary) or, one-way, `iot-dr failback` brings the
 *    primary up to date; `verify` must pass; then the checks show DNS back on the primary.
 * Everything started is stopped, and the temporary state removed, whatever happens; the whole
 * drill is bounded by `--timeout`.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { diffSnapshots, mapLimit, snapshotRegion } from '../../functions/lib/fleet';
import { readConfig } from '../context';
import { type DrillBroker, startBroker } from '../drill/broker';
import * as events from '../drill/events';
import * as fleet from '../drill/fleet';
import type { Side } from '../drill/fleet';
import { EXIT, ExternalError, isAwsError } from '../errors';
import { type CliIo, writeLine } from '../io';
import { emulatedLambdaEnv, ensureMoto, type MotoServer, startMotoServer } from '../moto';
import { canaryAlarm, canaryWorstCaseSeconds } from '../../functions/lib/health/alarm';
import { type CanaryDrill, type CanaryEvaluation, startCanaryDrill } from '../drill/canary';
import { startCaptureProxy } from '../drill/capture';
import { type PipelineRun, pipelineSettings, type ReplicationPipeline, startPipeline } from '../drill/pipeline';
import { createReplicationTable, putReplicationItem } from '../drill/replication-table';
import { resourceName } from '../../stacks/names';
import type { IotDrConfig } from '../../config/schema';

export interface DrillOptions {
  readonly things: number;
  readonly timeout: number;
  readonly config?: string;
  readonly json: boolean;
}

interface Phase {
  readonly name: string;
  readonly ms: number;
  readonly detail: string;
}

/** One health-check round: both regions' verdicts and what DNS would answer after it. */
interface Round {
  readonly round: number;
  readonly primary: { status: number; verdict: string; ms: number };
  readonly secondary: { status: number; verdict: string; ms: number };
  readonly primaryConsecutiveFailures: number;
  readonly dnsAnswer: 'primary' | 'secondary' | 'none';
}

export interface DrillReport {
  readonly ok: boolean;
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly things: number;
  readonly phases: readonly Phase[];
  /**
   * The primary -> secondary replication, in the deployed shape: `shape` names it (e.g. `EXPRESS
   * batch (2 execution(s) for 16 event(s)) + slow lane 0`); `executions` counts every execution
   * (batch, slow lane or per-event), `executionsBy` each kind; `batches` the stream batches
   * (trigger invocations) and `retries` Lambda's re-deliveries of returned records; `failed` the
   * failed executions, `failuresRecorded` the failure table's items, `dlq` the DLQ's messages.
   */
  readonly replication: {
    shape: string;
    workflowType: 'EXPRESS' | 'STANDARD' | null;
    events: number;
    batches: number;
    retries: number;
    executions: number;
    executionsBy: { express: number; slowLane: number; standard: number };
    succeeded: number;
    failed: number;
    failuresRecorded: number;
    dlq: number;
  };
  readonly differences: number;
  readonly rounds: readonly Round[];
  readonly failover: {
    decidedAfterRounds: number | null;
    failureThreshold: number;
    intervalSeconds: number;
    detectionSecondsInAws: number;
    dnsTtlSeconds: number;
  };
  /**
   * The canary path (default mode): datapoints published to moto CloudWatch on a virtual clock (the
   * checks themselves are real), the alarm evaluated by CloudWatch's documented rules each minute.
   */
  readonly canary: {
    readonly datapoints: { primary: number; secondary: number };
    readonly evaluations: readonly CanaryEvaluation[];
    /** Virtual seconds from the primary broker going down to the alarm deciding the failover. */
    readonly detectionSeconds: number | null;
    /** The documented worst case for this configuration (docs/failover.md). */
    readonly worstCaseSeconds: number;
    readonly threshold: number;
  };
  /** The failback phase: how the primary was brought up to date, and the result. */
  readonly failback: {
    readonly via: 'two-way replication' | 'iot-dr failback';
    /** Two-way: the shape of the reverse direction that ran (see `replication.shape`). */
    readonly shape?: string;
    /** Changes made in the secondary during the outage (captured events, or differences found). */
    readonly changes: number;
    /** Two-way: workflow executions; one-way: things synced. */
    readonly executions: number;
    /** Two-way: failed executions + failure records + DLQ messages; one-way: items failed. */
    readonly failed: number;
    /** Differences left after it (-1: not reached). */
    readonly differences: number;
    readonly ms: number;
    readonly dnsBackOnPrimary: boolean;
  } | null;
  readonly totalMs: number;
  readonly error?: string;
}

/** Bound of the one-time moto installation (a virtualenv and pip install on the first drill). */
const INSTALL_TIMEOUT_MS = 10 * 60_000;

/** Project root (scripts/ensure-moto.sh): two levels up, from cli/commands/ and from the bundle in .build/cli/. */
const REPO = resolve(__dirname, '..', '..');

/** Runs a drill; exit 0 when replication verified and the failover decision is the secondary. */
export async function drillCommand(options: DrillOptions, io: CliIo): Promise<number> {
  const config = readConfig(options.config, io);
  const started = performance.now();
  const phases: Phase[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  const say = (line: string) => {
    if (!options.json) writeLine(io.stderr, line);
  };
  const phase = async <T>(name: string, fn: () => Promise<T>, detail: (r: T) => string): Promise<T> => {
    const t0 = performance.now();
    say(`[drill] ${name}...`);
    const result = await fn();
    const entry = { name, ms: Math.round(performance.now() - t0), detail: detail(result) };
    phases.push(entry);
    say(`[drill] ${name}: ${entry.detail} (${entry.ms} ms)`);
    return result;
  };

  // The drill talks to the emulator only: fake credentials, no instance metadata, endpoint pinned.
  const savedEnv = { ...process.env };
  const report: {
    replication: DrillReport['replication'];
    differences: number;
    rounds: Round[];
    decidedAfterRounds: number | null;
    canary: {
      datapoints: { primary: number; secondary: number };
      evaluations: CanaryEvaluation[];
      detectionSeconds: number | null;
      worstCaseSeconds: number;
      threshold: number;
    };
    failback: DrillReport['failback'];
  } = {
    replication: {
      shape: 'not run',
      workflowType: null,
      events: 0,
      batches: 0,
      retries: 0,
      executions: 0,
      executionsBy: { express: 0, slowLane: 0, standard: 0 },
      succeeded: 0,
      failed: 0,
      failuresRecorded: 0,
      dlq: 0,
    },
    differences: -1,
    rounds: [],
    decidedAfterRounds: null,
    canary: {
      datapoints: { primary: 0, secondary: 0 },
      evaluations: [],
      detectionSeconds: null,
      worstCaseSeconds: canaryWorstCaseSeconds(config.healthCheck.failureThreshold, config.healthCheck.intervalSeconds)
        .failingRoundTrips,
      threshold: canaryAlarm(config.namePrefix, config.healthCheck.failureThreshold, config.healthCheck.intervalSeconds)
        .threshold,
    },
    failback: null,
  };
  let error: string | undefined;
  let internal = false;
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  // Something started after the deadline (the body keeps running in the background) is stopped at once.
  const register = (cleanup: () => Promise<void>) => {
    if (finished) void cleanup().catch(() => {});
    else cleanups.push(cleanup);
  };

  const body = async (motoBinary: string) => {
    const moto: MotoServer = await phase(
      'start moto server',
      () => startMotoServer({ binary: motoBinary, startTimeoutMs: 30_000 }),
      (m) => m.endpoint,
    );
    register(() => moto.stop());
    const [primaryBroker, secondaryBroker]: DrillBroker[] = await phase(
      'start MQTT brokers',
      () => Promise.all([startBroker(), startBroker()]),
      ([p, s]) => `primary ${p.url}, secondary ${s.url}`,
    );
    cleanups.push(
      () => primaryBroker.down(),
      () => secondaryBroker.down(),
    );

    Object.assign(process.env, {
      ...emulatedLambdaEnv(moto.endpoint),
      POWERTOOLS_DEV: 'false',
    });
    const clientConfig = (region: string) => ({
      region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'drill', secretAccessKey: 'drill' },
      maxAttempts: 3,
    });
    const primary = {
      region: config.primaryRegion,
      iot: new IoTClient(clientConfig(config.primaryRegion)),
      data: new IoTDataPlaneClient(clientConfig(config.primaryRegion)),
    };
    const secondary = {
      region: config.secondaryRegion,
      iot: new IoTClient(clientConfig(config.secondaryRegion)),
      data: new IoTDataPlaneClient(clientConfig(config.secondaryRegion)),
    };

    const eventsTable = resourceName(config.namePrefix, 'events');
    const tables: Record<string, DynamoDBClient> = {
      [config.primaryRegion]: new DynamoDBClient(clientConfig(config.primaryRegion)),
      [config.secondaryRegion]: new DynamoDBClient(clientConfig(config.secondaryRegion)),
    };
    const items = await phase(
      'seed the primary',
      async () => {
        // The replication table (one copy per region: moto has no global tables), and the seed's
        // events in the primary's copy, as its capture rules would have written them.
        for (const table of Object.values(tables)) await createReplicationTable(table, eventsTable);
        const seeded = await seed(primary, options.things);
        await mapLimit(seeded, 8, (item) => putReplicationItem(tables[config.primaryRegion], eventsTable, item));
        return seeded;
      },
      (i) =>
        `${options.things} things with certificates, policy, groups and shadows; ${i.length} registry/shadow events`,
    );

    // One direction as the stack deploys it (cli/drill/pipeline.ts), started per phase.
    const pipeline = async (target: 'primary' | 'secondary'): Promise<ReplicationPipeline> => {
      const p = await startPipeline({
        target,
        primaryRegion: config.primaryRegion,
        secondaryRegion: config.secondaryRegion,
        namePrefix: config.namePrefix,
        settings: pipelineSettings(config.replication),
        motoEndpoint: moto.endpoint,
        tableName: eventsTable,
      });
      register(() => p.stop());
      return p;
    };
    report.replication = await phase(
      'replicate through the workflow (ASL + worker handlers)',
      async () => replicationReport(await replicate(await pipeline('secondary'), items, config)),
      (r) =>
        `${r.shape}: ${r.succeeded}/${r.executions} executions succeeded, ${r.failuresRecorded} failure(s) recorded, ${r.dlq} in the DLQ`,
    );

    const differences = await phase(
      'verify both regions',
      async () => {
        const read = { principals: config.replication.mode === 'complete' };
        const [p, s] = await Promise.all([snapshotRegion(primary, read), snapshotRegion(secondary, read)]);
        return diffSnapshots(p, s);
      },
      (d) =>
        d.length
          ? `${d.length} difference(s): ${d
              .slice(0, 5)
              .map((x) => x.detail)
              .join('; ')}`
          : 'the regions match',
    );
    report.differences = differences.length;

    // Health checks: the real handler logic against each region's broker.
    const { createHealthCheck } = await import('../../functions/lib/health/check');
    const { SECRET_QUERY_PARAMETER } = await import('../../functions/lib/health/guard');
    const secret = randomBytes(16).toString('hex');
    const check = (broker: DrillBroker) =>
      createHealthCheck({
        brokerUrl: async () => broker.url,
        guard: { check: async (key: string) => (key === secret ? 'allowed' : 'denied') },
        namePrefix: config.namePrefix,
        messageCount: config.healthCheck.messageCount,
        deadlineMs: config.healthCheck.deadlineMilliseconds,
        log: () => {},
      });
    const checks: Record<'primary' | 'secondary', ReturnType<typeof check>> = { primary: check(primaryBroker), secondary: check(secondaryBroker) };
    const probe = async (which: 'primary' | 'secondary') => {
      const t0 = performance.now();
      const res = await checks[which]({ queryStringParameters: { [SECRET_QUERY_PARAMETER]: secret } });
      const body = JSON.parse(String(res.body ?? '{}')) as { status?: string; phase?: string };
      const status = res.statusCode ?? 0;
      // Route 53 HTTPS checks pass on 2xx/3xx answered within 2 s.
      return {
        status,
        verdict: status >= 200 && status < 400 ? 'healthy' : `unhealthy${body.phase ? ` (${body.phase})` : ''}`,
        ms: Math.round(performance.now() - t0),
      };
    };
    const threshold = config.healthCheck.failureThreshold;
    let failures = 0;
    let primaryUnhealthy = false;
    const round = async (n: number): Promise<Round> => {
      const [p, s] = await Promise.all([probe('primary'), probe('secondary')]);
      failures = p.verdict === 'healthy' ? 0 : failures + 1;
      if (failures >= threshold) primaryUnhealthy = true;
      if (p.verdict === 'healthy') primaryUnhealthy = false;
      const secondaryHealthy = s.verdict === 'healthy';
      const dnsAnswer: Round['dnsAnswer'] = !primaryUnhealthy ? 'primary' : secondaryHealthy ? 'secondary' : 'primary';
      const r = { round: n, primary: p, secondary: s, primaryConsecutiveFailures: failures, dnsAnswer };
      report.rounds.push(r);
      say(
        `[drill]   round ${n}: primary ${p.verdict} (${p.status}, ${p.ms} ms), secondary ${s.verdict} (${s.status}, ${s.ms} ms) -> DNS answers ${dnsAnswer}`,
      );
      return r;
    };
    await phase(
      'health checks, both brokers up',
      () => round(1),
      (r) => `primary ${r.primary.verdict}, secondary ${r.secondary.verdict}; DNS answers ${r.dnsAnswer}`,
    );
    // The canary path: real round trips, datapoints in moto CloudWatch, alarms by CloudWatch's rules.
    const canary: CanaryDrill = startCanaryDrill({
      config,
      brokers: { primary: primaryBroker, secondary: secondaryBroker },
      cloudwatch: {
        primary: new CloudWatchClient(clientConfig(config.primaryRegion)),
        secondary: new CloudWatchClient(clientConfig(config.secondaryRegion)),
      },
    });
    await phase(
      'canary, both brokers up (1 run per region)',
      async () => {
        await canary.run();
        return canary.evaluateDue();
      },
      (e) =>
        `${canary.datapoints.primary + canary.datapoints.secondary} datapoints in CloudWatch; alarms ${e.map((x) => `${x.primary.state}/${x.secondary.state}`).join(', ') || 'not evaluated yet'}`,
    );
    await phase(
      'take the primary broker down',
      () => primaryBroker.down(),
      () => 'primary broker stopped',
    );
    const downAt = canary.now();
    await phase(
      'canary until the alarm decides (CloudWatch rules)',
      async () => {
        for (let run = 0; run < 5 && report.canary.detectionSeconds === null; run++) {
          await canary.run();
          for (const e of await canary.evaluateDue()) {
            report.canary.evaluations.push(e);
            say(
              `[drill]   t=${e.atSeconds} s: primary alarm ${e.primary.state} (${e.primary.failures ?? 'no'} failures), secondary ${e.secondary.state} -> DNS answers ${e.dnsAnswer}`,
            );
            if (e.dnsAnswer === 'secondary' && report.canary.detectionSeconds === null) {
              report.canary.detectionSeconds = Math.round(e.atSeconds - (downAt - canary.startedAt) / 1000);
            }
          }
        }
        report.canary.datapoints = { ...canary.datapoints };
        return report.canary;
      },
      (c) =>
        c.detectionSeconds !== null
          ? `failover decided ${c.detectionSeconds} s (virtual) after the broker went down; documented worst case ${c.worstCaseSeconds} s`
          : 'no failover decision',
    );
    await phase(
      `health checks until failover (threshold ${threshold})`,
      async () => {
        for (let n = 2; n < 2 + threshold + 2; n++) {
          const r = await round(n);
          if (r.dnsAnswer === 'secondary') {
            report.decidedAfterRounds = n - 1;
            return r;
          }
        }
        return report.rounds[report.rounds.length - 1];
      },
      (r) =>
        r.dnsAnswer === 'secondary'
          ? `failover: DNS answers the secondary after ${report.decidedAfterRounds} failed round(s)`
          : `no failover (DNS answers ${r.dnsAnswer})`,
    );

    // --- Failback -------------------------------------------------------------------------------
    const twoWay = config.replication.direction === 'two-way';
    // The secondary's capture rules: its writes, captured, land in its copy of the replication table.
    const proxy = await startCaptureProxy(moto.endpoint, (item) => putReplicationItem(tables[config.secondaryRegion], eventsTable, item));
    register(() => proxy.stop());
    const outage: Side = {
      region: config.secondaryRegion,
      iot: new IoTClient({ ...clientConfig(config.secondaryRegion), endpoint: proxy.endpoint }),
      data: new IoTDataPlaneClient({ ...clientConfig(config.secondaryRegion), endpoint: proxy.endpoint }),
    };
    await new Promise((r) => setTimeout(r, 1100)); // shadow metadata timestamps are whole seconds
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    const captured = await phase(
      'outage: devices and an operator change the secondary',
      async () => {
        const names = Array.from({ length: Math.min(options.things, 4) }, (_, i) => `drill-${String(i + 1).padStart(4, '0')}`);
        for (const [i, name] of names.entries()) await fleet.updateShadow(outage, name, '', { reported: { temperature: 40 + i } });
        await fleet.updateShadow(outage, names[0], 'ota', { reported: { firmware: '1.2.3' }, desired: { firmware: '2.0.0' } });
        const provisioned = { type: 'drill-sensor', attributes: { site: 'b', serial: 'new' } };
        // A device provisioned in the secondary: in complete mode with its certificate and policy.
        if (config.replication.mode === 'complete') await fleet.createDevice(outage, 'drill-provisioned', { ...provisioned, policy: 'drill-device-policy' });
        else await fleet.createThing(outage, 'drill-provisioned', provisioned);
        await fleet.addToGroup(outage, 'drill-site-a', 'drill-provisioned');
        return proxy.drain();
      },
      (items) => `${items.length} change(s): shadows (classic and named), a new thing in a group${twoWay ? '; captured in the secondary' : ''}`,
    );
    const restarted = await phase(
      'the primary comes back (DNS held on the secondary)',
      async () => {
        const broker = await startBroker();
        cleanups.push(() => broker.down());
        checks.primary = check(broker);
        const p = await probe('primary');
        return p;
      },
      (p) => `primary ${p.verdict}; its health check stays inverted until the failback says SAFE`,
    );
    const t0 = performance.now();
    const back = await phase(
      twoWay ? 'two-way replication brings the primary up to date' : 'iot-dr failback brings the primary up to date',
      async () => (twoWay ? replicateBack(await pipeline('primary'), captured, config) : failbackOneWay(options.config, io, moto.endpoint, since)),
      (r) => `${r.shape ? `${r.shape}: ` : ''}${r.executions} execution(s)/sync(s), ${r.failed} failed`,
    );
    const after = await phase(
      'verify both regions after failback',
      async () => {
        const read = { principals: config.replication.mode === 'complete' };
        const [p, s] = await Promise.all([snapshotRegion(primary, read), snapshotRegion(secondary, read)]);
        return diffSnapshots(p, s);
      },
      (d) => (d.length ? `${d.length} difference(s): ${d.slice(0, 5).map((x) => x.detail).join('; ')}` : 'the regions match'),
    );
    const ms = Math.round(performance.now() - t0);
    const last = await phase(
      'health checks after failback (DNS released)',
      () => round(report.rounds.length + 1),
      (r) => `primary ${r.primary.verdict}; DNS answers ${r.dnsAnswer}`,
    );
    report.failback = {
      via: twoWay ? 'two-way replication' : 'iot-dr failback',
      ...(back.shape ? { shape: back.shape } : {}),
      changes: twoWay ? captured.length : back.changes,
      executions: back.executions,
      failed: back.failed,
      differences: after.length,
      ms,
      dnsBackOnPrimary: restarted.verdict === 'healthy' && last.dnsAnswer === 'primary',
    };
    for (const c of [primary.iot, primary.data, secondary.iot, secondary.data, outage.iot, outage.data, ...Object.values(tables)]) c.destroy();
  };

  try {
    // The one-time installation of moto (pip, network) has its own bound; --timeout is the drill's.
    const motoBinary = await phase(
      'install/locate moto server',
      () => ensureMoto(io.env, REPO, INSTALL_TIMEOUT_MS),
      (p) => p,
    );
    await Promise.race([
      body(motoBinary),
      new Promise<never>((_, reject) => {
        if (io.signal?.aborted) reject(new ExternalError('interrupted'));
        io.signal?.addEventListener('abort', () => reject(new ExternalError('interrupted')), { once: true });
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ExternalError(`the drill did not finish within --timeout ${options.timeout} s`)),
          options.timeout * 1000,
        );
      }),
    ]);
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    // AWS/emulator failures are external; anything else is reported as internal (exit 1).
    const cause = (err as { cause?: unknown })?.cause;
    internal = !(err instanceof ExternalError) && !isAwsError(err) && !isAwsError(cause);
  } finally {
    finished = true;
    if (timer) clearTimeout(timer);
    const t0 = performance.now();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    process.env = savedEnv;
    phases.push({ name: 'clean up', ms: Math.round(performance.now() - t0), detail: 'moto and brokers stopped' });
    say(`[drill] clean up: moto and brokers stopped (${phases[phases.length - 1].ms} ms)`);
  }

  const failedOver = report.decidedAfterRounds !== null && report.canary.detectionSeconds !== null;
  const failedBack = report.failback !== null && report.failback.differences === 0 && report.failback.failed === 0 && report.failback.dnsBackOnPrimary;
  const replicated = report.replication.failed === 0 && report.replication.failuresRecorded === 0 && report.replication.dlq === 0;
  const ok = !error && report.differences === 0 && replicated && failedOver && failedBack;
  const result: DrillReport = {
    ok,
    primaryRegion: config.primaryRegion,
    secondaryRegion: config.secondaryRegion,
    things: options.things,
    phases,
    replication: report.replication,
    differences: report.differences,
    rounds: report.rounds,
    failover: {
      decidedAfterRounds: report.decidedAfterRounds,
      failureThreshold: config.healthCheck.failureThreshold,
      intervalSeconds: config.healthCheck.intervalSeconds,
      // In AWS the rounds are Route 53's request interval apart.
      detectionSecondsInAws: config.healthCheck.failureThreshold * config.healthCheck.intervalSeconds,
      dnsTtlSeconds: config.dns?.ttlSeconds ?? 30,
    },
    canary: report.canary,
    failback: report.failback,
    totalMs: Math.round(performance.now() - started),
    ...(error ? { error } : {}),
  };
  if (options.json) writeLine(io.stdout, JSON.stringify(result, null, 2));
  else printReport(result, io);
  if (error) return internal ? EXIT.INTERNAL : EXIT.EXTERNAL;
  return ok ? EXIT.OK : EXIT.DIFFERENCES;
}

function printReport(r: DrillReport, io: CliIo): void {
  const out = io.stdout;
  writeLine(
    out,
    `DR drill ${r.primaryRegion} -> ${r.secondaryRegion}, ${r.things} things: ${r.ok ? 'PASSED' : 'FAILED'}${r.error ? ` (${r.error})` : ''}`,
  );
  writeLine(out, 'Phases:');
  for (const p of r.phases) writeLine(out, `  ${p.name.padEnd(56)} ${String(p.ms).padStart(7)} ms  ${p.detail}`);
  writeLine(
    out,
    `Replication: ${r.replication.shape}; ${r.replication.succeeded}/${r.replication.executions} workflow executions succeeded, ${r.replication.failuresRecorded} failure(s) recorded, ${r.replication.dlq} in the DLQ; verify found ${r.differences < 0 ? 'n/a' : r.differences} difference(s).`,
  );
  if (r.failover.decidedAfterRounds !== null) {
    writeLine(
      out,
      `Failover: primary unhealthy after ${r.failover.decidedAfterRounds} consecutive failed check(s) (failureThreshold ${r.failover.failureThreshold}); DNS answers the secondary. In AWS: about ${r.failover.detectionSecondsInAws} s to detect (${r.failover.failureThreshold} x ${r.failover.intervalSeconds} s) plus up to ${r.failover.dnsTtlSeconds} s of DNS TTL.`,
    );
  }
  if (r.canary.detectionSeconds !== null) {
    writeLine(
      out,
      `Canary (default mode): the primary's alarm (${r.canary.threshold}+ failed round trips in a minute, or no data) decided the failover ${r.canary.detectionSeconds} s after the broker went down (virtual clock; documented worst case ${r.canary.worstCaseSeconds} s, plus CloudWatch evaluation and Route 53 reading the alarm, plus up to ${r.failover.dnsTtlSeconds} s of DNS TTL).`,
    );
  }
  if (r.failback) {
    writeLine(
      out,
      `Failback (${r.failback.via}${r.failback.shape ? `, ${r.failback.shape}` : ''}): ${r.failback.changes} change(s) made in the secondary during the outage brought to the primary in ${r.failback.ms} ms; verify found ${r.failback.differences} difference(s); DNS ${r.failback.dnsBackOnPrimary ? 'back on the primary' : 'NOT back on the primary'}.`,
    );
  }
  writeLine(out, `Total: ${r.totalMs} ms.`);
}

/** Seeds the primary and returns the events the capture rules would have written. */
async function seed(primary: Side, count: number): Promise<events.TableItem[]> {
  const region = primary.region;
  const items: events.TableItem[] = [];
  const sensor = { name: 'drill-sensor', description: 'drill sensor', searchableAttributes: ['site'] };
  await fleet.createThingType(primary, sensor.name, sensor);
  items.push(events.thingTypeEvent(region, 'CREATED', sensor));
  await fleet.createGroup(primary, 'drill-fleet', { attributes: { owner: 'drill' } });
  items.push(events.thingGroupEvent(region, 'CREATED', { name: 'drill-fleet', attributes: { owner: 'drill' } }));
  const siteA = { name: 'drill-site-a', parent: 'drill-fleet', attributes: { city: 'paris' } };
  await fleet.createGroup(primary, siteA.name, siteA);
  items.push(events.thingGroupEvent(region, 'CREATED', { ...siteA, rootToParent: [siteA.parent] }));
  const policyDocument = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: `arn:aws:iot:${region}:${events.ACCOUNT}:client/\${iot:Connection.Thing.ThingName}`,
      },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: `arn:aws:iot:${region}:${events.ACCOUNT}:topic/drill/*`,
      },
    ],
  });
  await fleet.createPolicy(primary, 'drill-device-policy', policyDocument);

  const names = Array.from({ length: count }, (_, i) => `drill-${String(i + 1).padStart(4, '0')}`);
  await mapLimit(names, 8, async (name, i) => {
    const attributes = { site: i % 2 ? 'b' : 'a', serial: String(100000 + i) };
    // A thing with a certificate (private key discarded) and the policy attached.
    await fleet.createDevice(primary, name, { type: sensor.name, attributes, policy: 'drill-device-policy' });
    items.push(events.thingEvent(region, 'CREATED', { name, type: sensor.name, attributes }));
    const group = i % 2 ? 'drill-fleet' : 'drill-site-a';
    await fleet.addToGroup(primary, group, name);
    items.push(events.membershipEvent(region, 'ADDED', group, name));
    const state = { reported: { temperature: 20 + (i % 10) }, desired: { interval: 60 } };
    const doc = await fleet.updateShadow(primary, name, '', state);
    items.push(
      events.shadowEvent(region, 'update', name, '', { state, version: doc.version, timestamp: doc.timestamp }),
    );
    if (i % 5 === 0) {
      const named = { desired: { firmware: '1.2.3' } };
      const d = await fleet.updateShadow(primary, name, 'ota', named);
      items.push(
        events.shadowEvent(region, 'update', name, 'ota', { state: named, version: d.version, timestamp: d.timestamp }),
      );
    }
  });
  return items;
}

/**
 * Delivers the items to a direction's pipeline as its replica stream would: batches of
 * `replication.batchSize` in capture order (the order the writes completed), Lambda retrying
 * returned records `replication.maximumRetryAttempts` times.
 */
function replicate(pipeline: ReplicationPipeline, items: readonly events.TableItem[], config: IotDrConfig): Promise<PipelineRun> {
  return pipeline.run(items, { batchSize: config.replication.batchSize, maximumRetryAttempts: config.replication.maximumRetryAttempts });
}

function replicationReport(run: PipelineRun): DrillReport['replication'] {
  const { workflowType, events: count, batches, retries, executions, succeeded, failed, failuresRecorded, dlq, shape } = run;
  return {
    shape,
    workflowType,
    events: count,
    batches,
    retries,
    executions: executions.express + executions.slowLane + executions.standard,
    executionsBy: { ...executions },
    succeeded,
    failed,
    failuresRecorded,
    dlq,
  };
}

/**
 * Two-way: the secondary's captured changes through the REVERSE direction's pipeline, as the
 * stack deploys it in the primary (origin = secondary, target = primary, conflict policy `merge`).
 */
async function replicateBack(
  pipeline: ReplicationPipeline,
  items: readonly events.TableItem[],
  config: IotDrConfig,
): Promise<{ executions: number; failed: number; changes: number; shape: string }> {
  const r = replicationReport(await replicate(pipeline, items, config));
  return { executions: r.executions, failed: r.failed + r.failuresRecorded + r.dlq, changes: items.length, shape: r.shape };
}

/** One-way: `iot-dr failback --since` in-process, against the emulator. */
async function failbackOneWay(
  configFile: string | undefined,
  io: CliIo,
  endpoint: string,
  since: string,
): Promise<{ executions: number; failed: number; changes: number; shape?: string }> {
  const { PassThrough } = await import('node:stream');
  const { failbackCommand } = await import('./failback');
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await failbackCommand(
    { config: configFile, endpoint, rateLimit: 0, since, dryRun: false, json: true, quiet: true, concurrency: 8, force: false },
    { ...io, stdout, stderr: new PassThrough() },
  );
  const report = JSON.parse(out) as import('./failback').FailbackReport;
  const things = new Set(report.changes.map((c) => c.thing ?? c.name.split('/')[0]));
  return { executions: things.size, failed: report.failures.length + (code === 0 ? 0 : 1), changes: report.changes.length };
}
