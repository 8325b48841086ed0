// `tofu validate` of every synthesized stack (scripts/validate-terraform.sh), plus the
// engine-independent behaviour of the scripts (skip when unbuilt, -target exclusion closure).
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithEngine, explain, run } from './support';

describe('engine scripts without an engine', () => {
  it('validate-terraform.sh skips cleanly when the engine is not built', () => {
    const r = run('bash', ['scripts/validate-terraform.sh'], {
      IOT_DR_ENGINE_DIR: join(tmpdir(), 'iot-dr-no-engine-here'),
      IOT_DR_REQUIRE_ENGINE: undefined,
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/SKIP: Terraform engine not built/);
  });

  it('validate-terraform.sh fails when the engine is required but not built', () => {
    const r = run('bash', ['scripts/validate-terraform.sh'], {
      IOT_DR_ENGINE_DIR: join(tmpdir(), 'iot-dr-no-engine-here'),
      IOT_DR_REQUIRE_ENGINE: '1',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/FAIL: Terraform engine required/);
  });

  it('moto exclusion also drops everything that references an excluded resource', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-dr-stack-'));
    writeFileSync(
      join(dir, 'cdk.tf.json'),
      JSON.stringify({
        terraform: { required_providers: { aws: { source: 'aws', version: '6.25.0' } } },
        resource: {
          aws_iot_indexing_configuration: {
            idx: { thing_indexing_configuration: [{ thing_indexing_mode: 'REGISTRY' }] },
          },
          aws_sqs_queue: {
            uses: { name: '${jsonencode(aws_iot_indexing_configuration.idx.id)}' },
            after: { name: 'b', depends_on: ['aws_sqs_queue.uses'] },
            free: { name: 'c' },
          },
        },
      }),
    );
    const r = run('node', ['scripts/terraform-stack.mjs', 'targets', dir, 'aws_iot_indexing_configuration']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['-target=aws_sqs_queue.free']);
  });

  it('override file pins the providers to the mirror versions and can force a local backend', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-dr-stack-'));
    writeFileSync(
      join(dir, 'cdk.tf.json'),
      JSON.stringify({
        terraform: {
          backend: { s3: { bucket: 'b', key: 'k', region: 'us-east-1' } },
          required_providers: {
            aws: { source: 'aws', version: '6.25.0' },
            random: { source: 'random', version: '3.7.2' },
          },
        },
      }),
    );
    const r = run('node', ['scripts/terraform-stack.mjs', 'override', dir, '--local-backend'], {
      IOT_DR_AWS_PROVIDER_VERSION: '9.9.9',
      IOT_DR_RANDOM_PROVIDER_VERSION: '8.8.8',
    });
    expect(r.status).toBe(0);
    const o = JSON.parse(readFileSync(join(dir, 'zz_iot_dr_engine_override.tf.json'), 'utf8'));
    expect(o.terraform.required_providers).toEqual({
      aws: { source: 'aws', version: '9.9.9' },
      random: { source: 'random', version: '8.8.8' },
    });
    expect(o.terraform.backend).toEqual({ local: { path: 'terraform.tfstate' } });
  });
});

describeWithEngine('tofu validate (offline, providers from the local mirror)', () => {
  it(
    'every synthesized stack initializes and validates',
    () => {
      const r = run('bash', ['scripts/validate-terraform.sh'], { IOT_DR_REQUIRE_ENGINE: '1' });
      if (r.status !== 0) throw new Error(`validate-terraform.sh failed: ${explain(r)}`);
      expect(r.stderr).toMatch(/validate ok/);
    },
    15 * 60_000,
  );
});
