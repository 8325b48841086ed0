/**
 * What `npm run synth` and `npm run cdk` print around the synth, as cdktf's CLI would: the stack
 * warnings, the stacks of this configuration only (stale stack folders removed), and a bad
 * configuration's message once with exit 2.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const APP = join(ROOT, 'scripts', 'app.mjs');
const CDK = join(ROOT, 'scripts', 'cdk.mjs');

describe('Synth output: npm run synth / npm run cdk', () => {
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
