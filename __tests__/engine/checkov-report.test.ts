// scripts/checkov-report.mjs: judges checkov's JSON against the reviewed skip list. (checkov
// itself runs in CI through scripts/checkov.sh on the synthesized stacks.)
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './support';

function fixture(failed: Array<{ id: string; resource: string }>, skips: Record<string, unknown>) {
  const dir = mkdtempSync(join(tmpdir(), 'iot-dr-checkov-'));
  const stack = join(dir, 'stack');
  mkdirSync(stack);
  writeFileSync(
    join(stack, 'cdk.tf.json'),
    JSON.stringify({ resource: { aws_sqs_queue: { q_1: {} }, aws_lambda_function: { f_2: {} } } }),
  );
  const report = {
    check_type: 'terraform_json',
    summary: { passed: 3, failed: failed.length, parsing_errors: 0, checkov_version: '3.3.30' },
    results: {
      failed_checks: failed.map((f) => ({
        check_id: f.id,
        check_name: `name of ${f.id}`,
        resource: f.resource,
        file_path: '/cdk.tf.json',
        file_line_range: [10, 20],
      })),
    },
  };
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report));
  writeFileSync(join(dir, 'skips.json'), JSON.stringify({ skips }));
  return run('node', ['scripts/checkov-report.mjs', join(dir, 'skips.json'), `${stack}=${join(dir, 'report.json')}`]);
}

const reviewed = { verdict: 'acceptable', reason: 'reviewed' };

describe('checkov-report.mjs', () => {
  it('passes when every failed check id is a reviewed skip, and notes skips that no longer fail', () => {
    const r = fixture([{ id: 'CKV_AWS_1', resource: 'resource.q_1' }], { CKV_AWS_1: reviewed, CKV_AWS_2: reviewed });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/every failed check is a reviewed skip/);
    expect(r.stdout).toMatch(/no longer fail .*CKV_AWS_2/);
  });

  it('fails on a new check id, naming check id, resource type and name, and place', () => {
    const r = fixture(
      [
        { id: 'CKV_AWS_1', resource: 'resource.q_1' },
        { id: 'CKV_AWS_9', resource: 'resource.f_2' },
      ],
      { CKV_AWS_1: reviewed },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/NEW CKV_AWS_9 aws_lambda_function\.f_2 \(.*cdk\.tf\.json:10-20\) name of CKV_AWS_9/);
    expect(r.stderr).not.toMatch(/CKV_AWS_1 /);
  });

  it('refuses a skip without a verdict and a reason', () => {
    const r = fixture([], { CKV_AWS_1: { verdict: 'fine' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/CKV_AWS_1 needs a verdict/);
  });
});
