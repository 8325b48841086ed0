// `iot-dr failback` on a ONE-WAY deployment against moto server (us-east-1 primary, us-west-2
// secondary): the fleet is copied, the primary "fails", the secondary takes changes (a device
// reports, a named shadow changes, a thing is provisioned and put in a group), and failback brings
// the primary up to date through the replication library, verifies, and gives the verdict.
// moto: no CloudWatch IteratorAge data (reported as "no data"), no deployed queues or failure
// tables unless a test creates them (reported as "absent").
import { join } from 'node:path';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import type { FailbackReport } from '../../cli/commands/failback';
import { addToGroup, createThing, readShadow, updateShadow } from '../support/fleet';
import { motoClient, startMoto, type Moto } from '../support/moto';
import { cli, parseJson, SECONDARY, scratchDir, seedFleet, sides, useFakeCredentials } from './helpers';

let moto: Moto;
let scratch: ReturnType<typeof scratchDir>;
const env = () => ({ ...process.env, IOT_DR_CONFIG: '', IOT_DR_CONFIG_JSON: JSON.stringify({ replication: { direction: 'one-way' } }) });
const common = () => ['--endpoint', moto.endpoint, '--rate-limit', '0'];
const run = (command: string, ...extra: string[]) => cli([command, ...common(), ...extra], { cwd: scratch.dir, env: env() });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  scratch = scratchDir();
});
afterAll(async () => {
  await moto?.stop();
  scratch?.cleanup();
});

/** A copied fleet, then an outage during which only the secondary takes changes; returns the failover time. */
async function outage(): Promise<string> {
  await moto.reset();
  const { primary, secondary } = sides(moto.endpoint);
  await seedFleet(primary);
  const copied = await cli(['copy', ...common(), '--json', '--checkpoint', join(scratch.dir, 'cp.json')], { cwd: scratch.dir, env: env() });
  expect(copied.code).toBe(0);
  // The primary had a shadow the secondary deletes during the outage
  await updateShadow(primary, 'dev-3', 'diag', { reported: { ok: true } });
  await updateShadow(secondary, 'dev-3', 'diag', { reported: { ok: true } });
  await sleep(1100); // shadow metadata timestamps are whole seconds
  const since = new Date().toISOString();
  await sleep(1100);
  // During the outage: devices report in the secondary, an operator provisions a thing there
  await updateShadow(secondary, 'dev-1', '', { reported: { temperature: 30 } });
  await updateShadow(secondary, 'dev-2', 'config', { desired: { mode: 'boost' } });
  await createThing(secondary, 'dev-new', { attributes: { site: 'b' } });
  await addToGroup(secondary, 'site-a', 'dev-new');
  await secondary.data.send(new DeleteThingShadowCommand({ thingName: 'dev-3', shadowName: 'diag' }));
  // A half-up primary took a change of its own during the outage (newer than the failover)
  await updateShadow(primary, 'gw-1', 'cfg', { desired: { mode: 'safe' } });
  return since;
}

describe('iot-dr failback (one-way deployment)', () => {
  it('shows what the secondary changed since the failover without writing anything (--dry-run)', async () => {
    // Given an outage during which the secondary changed
    const since = await outage();
    // When a dry run is asked for
    const result = await run('failback', '--since', since, '--dry-run', '--json');
    // Then it writes nothing, lists the changes, attributes them to the secondary, exits 0
    expect(result.code).toBe(0);
    const report = parseJson<FailbackReport>(result.stdout);
    expect(report).toMatchObject({ dryRun: true, direction: 'one-way', healthy: true, safeToFailBack: false, outcomes: {} });
    const changed = report.changes.map((c) => `${c.changedIn} ${c.kind} ${c.resource} ${c.name}`).sort();
    expect(changed).toEqual(
      expect.arrayContaining(['secondary extra thing dev-new', 'secondary shadow shadow dev-1/', 'secondary shadow shadow dev-2/config']),
    );
    expect(report.verdict).toMatch(/^Dry run: nothing was written/);
    expect((await readShadow(sides(moto.endpoint).primary, 'dev-1'))?.state.reported).toEqual({ temperature: 21 });
  });

  it('brings the primary up to date, verifies, and says DNS may return', async () => {
    const since = await outage();
    const { primary } = sides(moto.endpoint);

    // When failing back
    const result = await run('failback', '--since', since, '--json');

    // Then the primary holds what the secondary changed, both regions match, and it is safe
    expect(result.stderr).toBe('');
    const report = parseJson<FailbackReport>(result.stdout);
    expect(report.failures).toEqual([]);
    expect(report.remaining).toEqual([]);
    expect(report).toMatchObject({ safeToFailBack: true });
    expect(report.verdict).toMatch(/^SAFE: /);
    expect(result.code).toBe(0);
    expect((await readShadow(primary, 'dev-1'))?.state.reported).toEqual({ temperature: 30 });
    expect((await readShadow(primary, 'dev-2', 'config'))?.state.desired).toEqual({ mode: 'boost' });
    expect(await readShadow(primary, 'dev-3', 'diag')).toBeUndefined(); // deleted in the secondary after --since
    // The primary's own newer shadow is kept, and carried to the secondary
    expect((await readShadow(primary, 'gw-1', 'cfg'))?.state.desired).toEqual({ mode: 'safe' });
    expect((await readShadow(sides(moto.endpoint).secondary, 'gw-1', 'cfg'))?.state.desired).toEqual({ mode: 'safe' });
    expect(report.outcomes.thing?.created).toBe(1);
    expect(report.outcomes.membership?.created).toBe(1);
    // And verify agrees
    expect((await run('verify', '--json')).code).toBe(0);
    // And a second failback has nothing left to do
    const again = parseJson<FailbackReport>((await run('failback', '--since', since, '--json')).stdout);
    expect([again.changes.length, again.safeToFailBack]).toEqual([0, true]);
  });

  it('refuses to write while a replication DLQ holds messages (exit 4, how to hold DNS), and goes on with --force', async () => {
    const since = await outage();
    const sqs = motoClient(SQSClient, moto.endpoint, SECONDARY);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'iot-dr-replication-dlq' }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: '{"reason":"test"}' }));
    sqs.destroy();

    const refused = await run('failback', '--since', since);
    expect(refused.code).toBe(4);
    expect(refused.stdout).toMatch(/attention\s+replication-dlq\s+us-west-2 iot-dr-replication-dlq: 1 message\(s\) waiting/);
    expect(refused.stdout).toMatch(/NOT SAFE: replication health needs attention \(nothing was written; fix it, or pass --force\)/);
    expect(refused.stdout).toContain('--inverted');
    expect((await readShadow(sides(moto.endpoint).primary, 'dev-1'))?.state.reported).toEqual({ temperature: 21 });

    const forced = parseJson<FailbackReport>((await run('failback', '--since', since, '--force', '--json')).stdout);
    expect(forced.remaining).toEqual([]);
    expect(forced.safeToFailBack).toBe(false); // still not safe: the DLQ needs a look
    expect((await readShadow(sides(moto.endpoint).primary, 'dev-1'))?.state.reported).toEqual({ temperature: 30 });
  });

  it('rejects a bad --since with exit 2 naming the option', async () => {
    const result = await run('failback', '--since', 'yesterday-ish');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--since must be an ISO 8601 time/);
  });
});
