// `iot-dr copy` and `iot-dr verify` against moto server with two regions (us-east-1 primary,
// us-west-2 secondary): real SDK calls, real replication library.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreatePolicyVersionCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DetachThingPrincipalCommand,
  RemoveThingFromThingGroupCommand,
  UpdateCertificateCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import type { CopySummary } from '../../cli/commands/copy';
import type { VerifyReport } from '../../cli/commands/verify';
import { startMoto, type Moto } from '../support/moto';
import { createGroup, createThing, updateShadow } from '../support/fleet';
import {
  cli,
  cliProcess,
  parseJson,
  PRIMARY,
  SECONDARY,
  scratchDir,
  seedFleet,
  sides,
  useFakeCredentials,
} from './helpers';

let moto: Moto;
let scratch: ReturnType<typeof scratchDir>;

beforeAll(async () => {
  useFakeCredentials();
  moto = await startMoto();
  scratch = scratchDir();
});
afterAll(async () => {
  await moto?.stop();
  scratch?.cleanup();
});

const common = () => ['--endpoint', moto.endpoint, '--rate-limit', '0'];
const copy = (...extra: string[]) =>
  cli(['copy', ...common(), '--json', '--checkpoint', join(scratch.dir, 'cp.json'), ...extra], { cwd: scratch.dir });
const verify = (...extra: string[]) => cli(['verify', ...common(), '--json', ...extra], { cwd: scratch.dir });

const changes = (s: CopySummary) =>
  Object.entries(s.outcomes).flatMap(([kind, actions]) =>
    Object.entries(actions)
      .filter(([action]) => action !== 'unchanged' && action !== 'skipped')
      .map(([action, n]) => `${kind}:${action}:${n}`),
  );

describe('iot-dr copy and verify', () => {
  beforeEach(async () => {
    await moto.reset();
    rmSync(join(scratch.dir, 'cp.json'), { force: true });
  });

  it('copies a fleet into an empty secondary, then a second copy changes nothing', async () => {
    // Given a fleet in the primary and an empty secondary
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary);

    // When copying
    const first = await copy();

    // Then every item is created and the regions match
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const summary = parseJson<CopySummary>(first.stdout);
    expect(summary.things).toBe(5);
    expect(summary.thingsCopied).toBe(5);
    expect(summary.failures).toEqual([]);
    expect(summary.outcomes.thing?.created).toBe(5);
    expect(summary.outcomes.thingType?.created).toBe(1);
    expect(summary.outcomes.thingGroup?.created).toBeGreaterThanOrEqual(2);
    expect(summary.outcomes.certificate?.created).toBe(4);
    expect(summary.outcomes.policy?.created).toBe(1);
    expect(summary.outcomes.membership?.created).toBe(3);
    expect(summary.outcomes.shadow?.created ?? summary.outcomes.shadow?.updated).toBeGreaterThanOrEqual(2);
    expect(existsSync(join(scratch.dir, 'cp.json'))).toBe(false);

    const check = await verify();
    const report = parseJson<VerifyReport>(check.stdout);
    expect(report.differences).toEqual([]);
    expect(check.code).toBe(0);
    expect(report.counts.secondary).toEqual(report.counts.primary);

    // When copying again, Then nothing changes
    const second = await copy();
    expect(second.code).toBe(0);
    expect(changes(parseJson<CopySummary>(second.stdout))).toEqual([]);
  });

  it('finds each kind of difference, exits 4 (also as a child process), and a dry run writes nothing', async () => {
    // Given two regions that matched, then drifted in every way verify knows
    const { primary, secondary } = sides(moto.endpoint);
    const { certificates } = await seedFleet(primary);
    await createGroup(primary, 'zone', { parent: 'site' });
    expect((await copy()).code).toBe(0);

    await createThing(primary, 'only-primary');
    await createThing(secondary, 'only-secondary');
    await secondary.iot.send(
      new UpdateThingCommand({ thingName: 'dev-1', attributePayload: { attributes: { site: 'b' }, merge: true } }),
    );
    await secondary.iot.send(new CreateThingTypeCommand({ thingTypeName: 'other' }));
    await secondary.iot.send(new UpdateThingCommand({ thingName: 'dev-2', thingTypeName: 'other' }));
    await secondary.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'site-a', thingName: 'dev-1' }));
    await primary.iot.send(new CreateThingGroupCommand({ thingGroupName: 'moved', parentGroupName: 'site' }));
    await secondary.iot.send(new CreateThingGroupCommand({ thingGroupName: 'moved', parentGroupName: 'site-a' }));
    await secondary.iot.send(
      new UpdateCertificateCommand({ certificateId: certificates['dev-3'].id, newStatus: 'INACTIVE' }),
    );
    await secondary.iot.send(
      new CreatePolicyVersionCommand({
        policyName: 'device-policy',
        policyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
        setAsDefault: true,
      }),
    );
    await secondary.iot.send(
      new DetachThingPrincipalCommand({
        thingName: 'dev-2',
        principal: certificates['dev-2'].arn.replace(PRIMARY, SECONDARY),
      }),
    );
    await updateShadow(secondary, 'dev-1', '', { reported: { temperature: 99 } });

    // When verifying
    const before = await verify();

    // Then each kind is reported, and the exit code says "differences"
    expect(before.code).toBe(4);
    const report = parseJson<VerifyReport>(before.stdout);
    expect(report.match).toBe(false);
    const found = new Set(report.differences.map((d) => `${d.kind}:${d.resource}:${d.name}`));
    for (const expected of [
      'missing:thing:only-primary',
      'extra:thing:only-secondary',
      'attributes:thing:dev-1',
      'type:thing:dev-2',
      'extra:thingType:other',
      'group:thing:dev-1',
      'hierarchy:thingGroup:moved',
      `certificate:certificate:${certificates['dev-3'].id}`,
      'policy:policy:device-policy',
      'attachment:thing:dev-2',
      'shadow:shadow:dev-1/',
    ]) {
      expect(found).toContain(expected);
    }

    // The real executable gives the same verdict and exit code
    const child = await cliProcess(['verify', '--endpoint', moto.endpoint, '--rate-limit', '0'], {
      cwd: scratch.dir,
      env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', IOT_DR_CONFIG: '' },
    });
    expect(child.code).toBe(4);
    expect(child.stdout).toMatch(/difference\(s\):/);
    expect(child.stdout).toContain('thing only-primary: thing only-primary missing in secondary');

    // When dry-running a copy, Then it reports the plan and writes nothing
    const dry = await copy('--dry-run');
    expect(dry.code).toBe(0);
    const plan = parseJson<{ dryRun: boolean; changes: { kind: string; name: string; action: string }[] }>(dry.stdout);
    expect(plan.dryRun).toBe(true);
    expect(plan.changes.find((c) => c.name === 'only-primary')?.action).toBe('create');
    const after = parseJson<VerifyReport>((await verify()).stdout);
    expect(after.differences).toEqual(report.differences);

    // When copying for real, Then what exists only in the secondary is left (copy does not delete),
    // and the group whose parent differs is recreated under the primary's parent (a parent is
    // fixed at creation), so nothing is skipped
    const repaired = await copy();
    expect(parseJson<CopySummary>(repaired.stdout).failures).toEqual([]);
    expect(repaired.code).toBe(0);
    expect(parseJson<CopySummary>(repaired.stdout).skipped).toEqual([]);
    const left = parseJson<VerifyReport>((await verify()).stdout);
    expect(left.differences.map((d) => `${d.kind}:${d.resource}:${d.name}`).sort()).toEqual([
      'extra:thing:only-secondary',
      'extra:thingType:other',
    ]);
  });

  it('copies in batches with --limit and resumes from the checkpoint', async () => {
    // Given 12 devices
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary, 11);
    const checkpoint = join(scratch.dir, 'cp.json');

    // When the first run stops after 5 things
    const first = parseJson<CopySummary>((await copy('--limit', '5', '--concurrency', '2')).stdout);

    // Then the checkpoint records them and the rest remain
    expect(first.thingsCopied).toBe(5);
    expect(first.thingsRemaining).toBe(7);
    const saved = parseJson<{ done: string[]; primaryRegion: string }>(readFileSync(checkpoint, 'utf8'));
    expect(saved.done).toHaveLength(5);
    expect(saved.primaryRegion).toBe(PRIMARY);
    expect(parseJson<VerifyReport>((await verify()).stdout).differencesByKind.missing).toBe(7);

    // When running again, Then it skips the 5 and copies the 7, and removes the checkpoint
    const second = parseJson<CopySummary>((await copy()).stdout);
    expect(second.resumed).toBe(true);
    expect(second.skippedFromCheckpoint).toBe(5);
    expect(second.thingsCopied).toBe(7);
    expect(existsSync(checkpoint)).toBe(false);
    expect((await verify()).code).toBe(0);
  });

  it('resumes after the executable is interrupted with SIGINT mid-copy', async () => {
    // Given 8 devices and a copy slowed down to 1 % of the quotas (about one call a second)
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary, 7);
    const checkpoint = join(scratch.dir, 'cp.json');
    const argv = ['copy', '--endpoint', moto.endpoint, '--checkpoint', checkpoint];
    const env = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', IOT_DR_CONFIG: '' };

    // When Ctrl-C arrives during the things phase
    const first = await cliProcess([...argv, '--rate-limit', '1', '--concurrency', '2'], {
      cwd: scratch.dir,
      env,
      interruptWhen: /^things: 0\/8$/m,
      timeoutMs: 60_000,
    });

    // Then it finishes the things in flight, saves the checkpoint and exits 130
    expect(first.stderr).toMatch(/interrupted; finishing the items in flight/);
    expect(first.code).toBe(130);
    expect(first.stdout).toMatch(/Interrupted: progress saved/);
    const saved = parseJson<{ done: string[]; phases: { thingTypes: boolean; thingGroups: boolean } }>(
      readFileSync(checkpoint, 'utf8'),
    );
    expect(saved.phases).toEqual(expect.objectContaining({ thingTypes: true, thingGroups: true }));
    expect(saved.done.length).toBeLessThan(8);

    // When run again, Then it resumes and completes
    const second = await cliProcess([...argv, '--rate-limit', '0', '--json'], {
      cwd: scratch.dir,
      env,
      timeoutMs: 60_000,
    });
    const summary = parseJson<CopySummary>(second.stdout);
    expect(second.code).toBe(0);
    expect(summary.resumed).toBe(true);
    expect(summary.skippedFromCheckpoint).toBe(saved.done.length);
    expect(summary.thingsCopied + saved.done.length).toBe(8);
    expect((await verify()).code).toBe(0);
  }, 90_000);

  it('stops on interruption with exit 130 and keeps the checkpoint; a checkpoint of another copy is refused', async () => {
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary, 2);
    const checkpoint = join(scratch.dir, 'cp.json');
    const controller = new AbortController();
    controller.abort();

    const interrupted = await cli(['copy', ...common(), '--checkpoint', checkpoint], {
      cwd: scratch.dir,
      signal: controller.signal,
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toContain('Interrupted: progress saved');
    expect(existsSync(checkpoint)).toBe(true);

    const other = await cli(['copy', ...common(), '--checkpoint', checkpoint, '--prefix', 'dev-'], {
      cwd: scratch.dir,
    });
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--checkpoint .* belongs to another copy \(prefix null, this copy "dev-"\)/);

    writeFileSync(checkpoint, '{not json');
    const broken = await cli(['copy', ...common(), '--checkpoint', checkpoint], { cwd: scratch.dir });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not a valid checkpoint/);

    const again = await copy();
    expect(again.code).toBe(2); // the broken file is still there: never overwritten silently
    rmSync(checkpoint);
  });

  it('copies only the things a prefix selects', async () => {
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary);
    const result = parseJson<CopySummary>((await copy('--prefix', 'gw-')).stdout);
    expect(result.things).toBe(1);
    expect(result.outcomes.thing).toEqual({ created: 1 });
    expect((await verify('--prefix', 'gw-', '--no-shadows')).code).toBe(4); // groups, types, certificates still differ
  });

  it('in thing-only mode copies the registry without certificates or policies, and verify compares only that', async () => {
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary, 2);
    const env = { ...process.env, IOT_DR_CONFIG: '', IOT_DR_REPLICATION_MODE: 'thing-only' };
    const copied = await cli(['copy', ...common(), '--json', '--checkpoint', join(scratch.dir, 'cp.json')], {
      cwd: scratch.dir,
      env,
    });
    const summary = parseJson<CopySummary>(copied.stdout);
    expect(summary.mode).toBe('thing-only');
    expect(summary.outcomes.thing).toEqual({ created: 3 });
    expect(summary.outcomes.certificate).toBeUndefined();
    expect(summary.outcomes.policy).toBeUndefined();
    const checked = await cli(['verify', ...common(), '--json'], { cwd: scratch.dir, env });
    expect(parseJson<VerifyReport>(checked.stdout).differences).toEqual([]);
    expect(checked.code).toBe(0);
    // The same regions in complete mode: the certificates and policies are missing
    const complete = parseJson<VerifyReport>((await verify()).stdout);
    expect(complete.differencesByKind.certificate).toBe(2);
  });

  it('copies only the things a fleet-indexing query selects (SearchIndex)', async () => {
    const { primary } = sides(moto.endpoint);
    await seedFleet(primary);
    const result = parseJson<CopySummary>((await copy('--query', 'thingName:dev-1 OR thingName:dev-3')).stdout);
    expect(result.things).toBe(2);
    expect(result.outcomes.thing).toEqual({ created: 2 });
    expect(result.outcomes.certificate).toEqual({ created: 2 });
  });
});
