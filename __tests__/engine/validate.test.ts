// `tofu validate` of every synthesized stack (scripts/validate-terraform.sh), plus the
// engine-independent behaviour of the scripts (skip when unbuilt, -target exclusion closure).
import { cpSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
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

// The engine's aws provider is built cut to the stack's service packages
// (scripts/aws-provider-cut.mjs): it must still refuse what the full provider refuses.
describeWithEngine('the cut engine still refuses a broken stack (mutated copies of the synthesized JSON)', () => {
  const base = mkdtempSync(join(tmpdir(), 'iot-dr-mutate-base-'));
  type Doc = { resource: Record<string, Record<string, Record<string, unknown>>> };

  beforeAll(() => {
    const r = run('npm', ['run', '--silent', 'synth'], { CDKTF_OUTDIR: base });
    if (r.status !== 0) throw new Error(`synth failed: ${explain(r)}`);
  }, 5 * 60_000);

  /** Validates a copy of the synthesized stack after `mutate` edited its cdk.tf.json. */
  function validateMutated(mutate: (doc: Doc) => void) {
    const out = mkdtempSync(join(tmpdir(), 'iot-dr-mutate-'));
    cpSync(join(base, 'stacks'), join(out, 'stacks'), { recursive: true });
    const file = join(out, 'stacks', 'iot-dr', 'cdk.tf.json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as Doc;
    mutate(doc);
    writeFileSync(file, JSON.stringify(doc));
    return run('bash', ['scripts/validate-terraform.sh'], {
      CDKTF_OUTDIR: out,
      IOT_DR_SKIP_SYNTH: '1',
      IOT_DR_REQUIRE_ENGINE: '1',
    });
  }
  const firstFunction = (doc: Doc) => Object.values(doc.resource.aws_lambda_function)[0];

  it(
    'refuses a misspelled attribute',
    () => {
      // Given a function whose memory_size is spelled memory_sizz
      const r = validateMutated((doc) => {
        const f = firstFunction(doc);
        f.memory_sizz = f.memory_size;
        delete f.memory_size;
      });
      // Then validate fails with the provider schema's own message
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/Extraneous JSON object property/);
      expect(r.stderr).toMatch(/memory_sizz/);
    },
    10 * 60_000,
  );

  it(
    'refuses an attribute of the wrong type',
    () => {
      const r = validateMutated((doc) => {
        firstFunction(doc).memory_size = 'a lot';
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/Incorrect attribute value type/);
    },
    10 * 60_000,
  );

  it(
    'refuses a resource type no provider has',
    () => {
      const r = validateMutated((doc) => {
        doc.resource.aws_lambda_functoin = { typo: { ...firstFunction(doc) } };
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/Invalid resource type/);
      expect(r.stderr).toMatch(/aws_lambda_functoin/);
    },
    10 * 60_000,
  );

  it(
    'names the missing service package, instead of calling a real type invalid, when the stack outgrows the cut',
    () => {
      // Given a real AWS resource type of a service the stack does not use yet (ECS)
      const r = validateMutated((doc) => {
        doc.resource.aws_ecs_cluster = { extra: { name: 'iot-dr-extra', provider: 'aws.primary' } };
      });
      // Then the check says to rebuild the engine (which widens the cut) rather than failing validate
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/service package ecs \(for aws_ecs_cluster\) is not in the engine's aws provider/);
      expect(r.stderr).toMatch(/run scripts\/terraform-engine\.sh/);
      expect(r.stderr).not.toMatch(/Invalid resource type/);
    },
    10 * 60_000,
  );
});
