/**
 * The synth as users run it (`npm run synth` = node scripts/app.mjs), in child processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const APP = join(ROOT, 'scripts', 'app.mjs');
const CDK = join(ROOT, 'scripts', 'cdk.mjs');

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

function synthInto(cwd: string, env: NodeJS.ProcessEnv = {}): string {
  execFileSync(process.execPath, [APP], {
    cwd,
    env: { ...process.env, CHECKPOINT_DISABLE: '1', ...env },
    stdio: 'pipe',
  });
  return join(cwd, 'cdktf.out');
}

describe('Synth: scripts/app.mjs', () => {
  it('writes byte-identical output twice, Lambda zips included (both built fresh)', () => {
    const fresh = { IOT_DR_NO_BUNDLE_CACHE: '1' };
    const a = synthInto(mkdtempSync(join(tmpdir(), 'synth-a-')), fresh);
    const b = synthInto(mkdtempSync(join(tmpdir(), 'synth-b-')), fresh);
    const filesA = listFiles(a)
      .map((f) => relative(a, f))
      .sort();
    const filesB = listFiles(b)
      .map((f) => relative(b, f))
      .sort();
    expect(filesA).toEqual(filesB);
    expect(filesA).toContain(join('stacks', 'iot-dr', 'cdk.tf.json'));
    for (const file of filesA) {
      expect({ file, same: readFileSync(join(a, file)).equals(readFileSync(join(b, file))) }).toEqual({
        file,
        same: true,
      });
    }
  });

  it('says where it wrote the Terraform for both regions', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-msg-'));
    const out = execFileSync(process.execPath, [APP], {
      cwd,
      env: { ...process.env, CHECKPOINT_DISABLE: '1' },
    }).toString();
    expect(out).toContain('cdktf.out/stacks/iot-dr/cdk.tf.json');
  });

  it('exits non-zero naming the field, value and rule for a bad configuration', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-bad-'));
    const run = spawnSync(process.execPath, [APP], {
      cwd,
      env: { ...process.env, IOT_DR_PRIMARY_REGION: 'us-west-2', IOT_DR_SECONDARY_REGION: 'us-west-2' },
    });
    expect(run.status).toBe(2);
    expect(run.stderr.toString()).toContain(
      'secondaryRegion: primary and secondary regions must differ (both are "us-west-2")',
    );
  });

  it('Given the default alarms, When `npm run synth`, Then the stack warnings cdktf would print are shown (stderr)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-warn-'));
    const run = spawnSync(process.execPath, [APP], { cwd, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
    expect(run.status).toBe(0);
    expect(run.stderr.toString()).toMatch(/^Warning: \[iot-dr\] \d+ alarms notify nobody/m);
  });

  it('Given a stack folder left by another namePrefix, When synthesized, Then only the current stack is listed and the stale folder is removed', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-stale-'));
    mkdirSync(join(cwd, 'cdktf.out', 'stacks', 'iot-dr'), { recursive: true });
    const out = execFileSync(process.execPath, [APP], {
      cwd,
      env: { ...process.env, CHECKPOINT_DISABLE: '1', IOT_DR_NAME_PREFIX: 'acme-dr' },
    }).toString();
    expect(out.match(/^Synthesized .*$/gm)).toEqual([
      'Synthesized Terraform for both regions: cdktf.out/stacks/acme-dr/cdk.tf.json',
    ]);
    expect(out).toContain('Removed cdktf.out/stacks/iot-dr');
    expect(readdirSync(join(cwd, 'cdktf.out', 'stacks'))).toEqual(['acme-dr']);
    const stackDir = execFileSync(process.execPath, [join(ROOT, 'scripts', 'manifest.mjs'), 'stack-dir'], {
      cwd,
    }).toString();
    expect(stackDir.trim()).toBe('cdktf.out/stacks/acme-dr');
  });

  it('Given a bad configuration, When `npm run cdk -- synth`, Then it exits 2 and prints the message once', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-cdk-bad-'));
    const run = spawnSync(process.execPath, [CDK, 'synth'], {
      cwd,
      env: { ...process.env, IOT_DR_PRIMARY_REGION: 'us-west-2', IOT_DR_SECONDARY_REGION: 'us-west-2' },
    });
    expect(run.status).toBe(2);
    const stderr = run.stderr.toString();
    expect(stderr.split('primary and secondary regions must differ').length - 1).toBe(1);
    expect(stderr).not.toContain('(got "us-west-2") (got');
    expect(run.stdout.toString()).toBe('');
  });
});
