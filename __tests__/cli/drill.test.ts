// `iot-dr drill` end to end, as a user runs it: the real executable, moto server, two aedes
// brokers over WebSocket on loopback, replication in the deployed shape (stream batches through the
// trigger's batch processing, the workflow ASL of the configured `workflowType` on a local Step
// Functions endpoint, the real workers), the real health-check handler. Checks the verdicts, the
// replication shape, the failover decision, the timings and the cleanup.
import type { DrillReport } from '../../cli/commands/drill';
import { cliProcess, parseJson, scratchDir } from './helpers';

let scratch: ReturnType<typeof scratchDir>;
beforeAll(() => {
  scratch = scratchDir();
});
afterAll(() => scratch.cleanup());

describe('iot-dr drill', () => {
  it('replicates a seeded fleet, verifies it, fails over when the primary broker goes down, and cleans up', async () => {
    // When the drill runs (failure threshold 2 from the configuration)
    const result = await cliProcess(['drill', '--things', '4', '--json', '--timeout', '100'], {
      cwd: scratch.dir,
      env: { IOT_DR_CONFIG: '', IOT_DR_HEALTH_CHECK_FAILURE_THRESHOLD: '2' },
      timeoutMs: 120_000,
    });

    // Then it passes, with every phase timed
    const report = parseJson<DrillReport>(result.stdout);
    expect(report.error).toBeUndefined();
    expect(result.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.phases.map((p) => p.name)).toEqual([
      'install/locate moto server',
      'start moto server',
      'start MQTT brokers',
      'seed the primary',
      'replicate through the workflow (ASL + worker handlers)',
      'verify both regions',
      'health checks, both brokers up',
      'canary, both brokers up (1 run per region)',
      'take the primary broker down',
      'canary until the alarm decides (CloudWatch rules)',
      'health checks until failover (threshold 2)',
      'outage: devices and an operator change the secondary',
      'the primary comes back (DNS held on the secondary)',
      'two-way replication brings the primary up to date',
      'verify both regions after failback',
      'health checks after failback (DNS released)',
      'clean up',
    ]);
    for (const p of report.phases) expect(p.ms).toBeGreaterThanOrEqual(0);
    expect(report.replication.failed).toBe(0);
    expect(report.differences).toBe(0);

    // The deployed shape (default EXPRESS, batchSize 10): each stream batch is one Express batch
    // execution (a batch of at most 40 events needs one), so executions are fewer than events; no
    // thing waits for its certificate (the seed attaches it first), so the slow lane stays idle
    const r = report.replication;
    expect(r.workflowType).toBe('EXPRESS');
    expect(r.events).toBeGreaterThanOrEqual(4 * 3 + 3);
    expect(r.batches).toBe(Math.ceil(r.events / 10));
    expect(r.executionsBy).toEqual({ express: r.batches, slowLane: 0, standard: 0 });
    expect(r.executions).toBeLessThan(r.events);
    expect(r.succeeded).toBe(r.executions);
    expect(r).toMatchObject({ retries: 0, failuresRecorded: 0, dlq: 0 });
    expect(r.shape).toBe(`EXPRESS batch (${r.batches} execution(s) for ${r.events} event(s)) + slow lane 0`);

    // Both healthy first; then the primary fails `failureThreshold` times in a row and DNS moves
    const [first, ...after] = report.rounds;
    expect(first.primary.verdict).toBe('healthy');
    expect(first.secondary.verdict).toBe('healthy');
    expect(first.dnsAnswer).toBe('primary');
    expect(after.map((r) => r.dnsAnswer)).toEqual(['primary', 'secondary', 'primary']);
    for (const r of after.slice(0, 2)) {
      expect(r.primary.status).toBe(503);
      expect(r.secondary.status).toBe(200);
    }
    expect(report.failover).toEqual(
      expect.objectContaining({ decidedAfterRounds: 2, failureThreshold: 2, detectionSecondsInAws: 20 }),
    );

    // The canary path: real round trips, datapoints in moto CloudWatch, the alarm by CloudWatch's rules.
    // 6 checks a minute per region (10 s interval); threshold 2 failures a minute.
    expect(report.canary.threshold).toBe(2);
    expect(report.canary.datapoints.primary).toBe(report.canary.datapoints.secondary);
    expect(report.canary.datapoints.primary % 6).toBe(0);
    expect(report.canary.datapoints.primary).toBeGreaterThanOrEqual(12);
    const decisions = report.canary.evaluations;
    const last = decisions[decisions.length - 1];
    expect(last).toMatchObject({
      primary: { state: 'ALARM' },
      secondary: { state: 'OK' },
      dnsAnswer: 'secondary',
    });
    expect(decisions.slice(0, -1).every((e) => e.dnsAnswer === 'primary')).toBe(true);
    // Detection in virtual time: within the documented worst case (2 x 10 s + 60 s)
    expect(report.canary.worstCaseSeconds).toBe(80);
    expect(report.canary.detectionSeconds).toBeGreaterThan(0);
    expect(report.canary.detectionSeconds).toBeLessThanOrEqual(80);

    // Failback: the secondary's outage changes (4 classic + 1 named shadow updates, a new device
    // created and put in a group) reach the primary through the reverse direction, deployed in the
    // primary in the same shape: one stream batch, one Express execution; verify passes
    expect(report.failback).toEqual(
      expect.objectContaining({
        via: 'two-way replication',
        shape: 'EXPRESS batch (1 execution(s) for 7 event(s)) + slow lane 0',
        changes: 7,
        executions: 1,
        failed: 0,
        differences: 0,
        dnsBackOnPrimary: true,
      }),
    );

    // Nothing is left running: moto no longer answers
    const motoUrl = report.phases.find((p) => p.name === 'start moto server')?.detail ?? '';
    expect(motoUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await expect(fetch(`${motoUrl}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 150_000);

  it('one-way, STANDARD deployment: one Standard execution per event, and the failback phase uses iot-dr failback', async () => {
    // When the drill runs with one-way replication and `workflowType: "STANDARD"`
    const result = await cliProcess(['drill', '--things', '3', '--json', '--timeout', '100'], {
      cwd: scratch.dir,
      env: {
        IOT_DR_CONFIG: '',
        IOT_DR_HEALTH_CHECK_FAILURE_THRESHOLD: '2',
        IOT_DR_REPLICATION_DIRECTION: 'one-way',
        IOT_DR_CONFIG_JSON: JSON.stringify({ replication: { workflowType: 'STANDARD' } }),
      },
      timeoutMs: 120_000,
    });
    // Then `iot-dr failback` brought every outage change (found by comparing the regions) to the primary
    const report = parseJson<DrillReport>(result.stdout);
    expect(report.error).toBeUndefined();
    expect(result.code).toBe(0);
    // Then every event ran as its own Standard execution (the trigger's StartExecution per record), no batch workflow
    const r = report.replication;
    expect(r.workflowType).toBe('STANDARD');
    expect(r.events).toBeGreaterThanOrEqual(3 * 3 + 3);
    expect(r.executionsBy).toEqual({ express: 0, slowLane: 0, standard: r.events });
    expect(r).toMatchObject({ executions: r.events, succeeded: r.events, failed: 0, failuresRecorded: 0, dlq: 0 });
    expect(r.shape).toBe(`STANDARD (${r.events} execution(s) for ${r.events} event(s))`);
    expect(report.phases.map((p) => p.name)).toContain('iot-dr failback brings the primary up to date');
    expect(report.failback).toEqual(expect.objectContaining({ via: 'iot-dr failback', failed: 0, differences: 0, dnsBackOnPrimary: true }));
    expect(report.failback?.changes).toBeGreaterThanOrEqual(5);
  }, 150_000);

  it('stops at --timeout, reports it (exit 3) and still cleans up', async () => {
    // Seeding 2,000 things takes far longer than the 10-second limit
    const result = await cliProcess(['drill', '--things', '2000', '--json', '--timeout', '10'], {
      cwd: scratch.dir,
      env: { IOT_DR_CONFIG: '' },
      timeoutMs: 60_000,
    });
    const report = parseJson<DrillReport>(result.stdout);
    expect(result.code).toBe(3);
    expect(report.ok).toBe(false);
    expect(report.error).toMatch(/did not finish within --timeout 10 s/);
    expect(report.phases[report.phases.length - 1].name).toBe('clean up');
    const motoUrl = report.phases.find((p) => p.name === 'start moto server')?.detail ?? '';
    await expect(fetch(`${motoUrl}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 90_000);
});
