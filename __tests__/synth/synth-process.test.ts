/**
 * The synth as users run it (`npm run synth` = node scripts/app.mjs), in child processes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const APP = join(ROOT, 'scripts', 'app.mjs');

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

  it('Given an EXPRESS workflow whose retries cannot finish in time, When synthesizing, Then it exits 2 naming the field, value and rule, without a stack trace', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'synth-express-'));
    const run = spawnSync(process.execPath, [APP], {
      cwd,
      env: {
        ...process.env,
        CHECKPOINT_DISABLE: '1',
        IOT_DR_CONFIG_JSON: JSON.stringify({ replication: { workflowType: 'EXPRESS', workerTimeoutSeconds: 120 } }),
      },
    });
    expect(run.status).toBe(2);
    const stderr = run.stderr.toString();
    expect(stderr).toContain('replication.workflowType: an EXPRESS batch must finish within 240 s');
    expect(stderr).toContain('(got "EXPRESS")');
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
