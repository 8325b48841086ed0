// The reconciliation construct, synthesized (no cloud): schedule, target, permission, cursor,
// least-privilege IAM, secondary provider, and the failure table wired from the workflow.
import { resourceNamed, resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const PREFIX = 'iot-dr';

function reconcilePolicy(tf: TerraformJson): { Statement: { Sid: string; Action: string[]; Resource: string[] }[] } {
  const role = resourcesOf(tf, 'aws_iam_role_policy').find(
    ([id]) => id.includes('reconciliation') && id.includes('function_policy'),
  );
  if (!role)
    throw new Error(
      `no reconciliation role policy among ${resourcesOf(tf, 'aws_iam_role_policy')
        .map(([id]) => id)
        .join(', ')}`,
    );
  return JSON.parse(role[1].policy);
}

describe('Construct: Reconciliation', () => {
  const tf = synthJson({});

  it('runs the function in the secondary on the configured schedule', () => {
    const rule = resourceNamed(tf, 'aws_cloudwatch_event_rule', 'reconciliation');
    expect(rule.schedule_expression).toBe('rate(1 hour)');
    expect(rule.state).toBe('ENABLED');
    expect(rule.provider).toBe('aws.secondary');
    const fn = resourceNamed(tf, 'aws_lambda_function', 'reconciliation');
    expect(fn.provider).toBe('aws.secondary');
    expect(fn.function_name).toBe(`${PREFIX}-reconcile`);
    expect(fn.reserved_concurrent_executions).toBe(1);
    expect(fn.environment.variables).toEqual(
      expect.objectContaining({
        PRIMARY_REGION: 'us-east-1',
        SECONDARY_REGION: 'us-west-2',
        REPLICATION_MODE: 'complete',
        CONFLICT_POLICY: 'merge',
        THINGS_PER_RUN: '500',
        FAILURE_TABLE: expect.stringContaining('aws_dynamodb_table.replication-workflow_failures'),
        CURSOR_PARAMETER: expect.stringContaining('aws_ssm_parameter.reconciliation_cursor'),
      }),
    );
  });

  it('targets the function, lets only that rule invoke it, and bounds retries with a DLQ', () => {
    const target = resourceNamed(tf, 'aws_cloudwatch_event_target', 'reconciliation');
    expect(target.arn).toContain('aws_lambda_function.reconciliation_function_');
    expect(target.retry_policy).toEqual({ maximum_retry_attempts: 2, maximum_event_age_in_seconds: 3600 });
    const permission = resourceNamed(tf, 'aws_lambda_permission', 'reconciliation');
    expect(permission.principal).toBe('events.amazonaws.com');
    expect(permission.source_arn).toContain('aws_cloudwatch_event_rule.reconciliation_schedule');
    const invoke = resourceNamed(tf, 'aws_lambda_function_event_invoke_config', 'reconciliation');
    expect(invoke.maximum_retry_attempts).toBe(0);
    expect(invoke.destination_config.on_failure.destination).toContain('aws_sqs_queue.reconciliation_dlq');
    expect(resourceNamed(tf, 'aws_sqs_queue', 'reconciliation_dlq').sqs_managed_sse_enabled).toBe(true);
  });

  it('keeps the cursor in an encrypted SSM parameter the function owns', () => {
    const cursor = resourceNamed(tf, 'aws_ssm_parameter', 'reconciliation');
    expect(cursor.type).toBe('SecureString');
    expect(cursor.name).toBe(`/${PREFIX}/reconciliation/cursor`);
    expect(cursor.lifecycle.ignore_changes).toEqual(['value']);
    expect(cursor.provider).toBe('aws.secondary');
  });

  it('grants least privilege: writes only in the secondary, no wildcard actions, * only for list APIs', () => {
    const policy = reconcilePolicy(tf);
    const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
    for (const s of policy.Statement) {
      for (const a of s.Action) expect(a).not.toMatch(/(^\*$|:\*$)/);
      if (s.Resource.includes('*')) expect(s.Sid).toBe('IotRegistryList');
    }
    expect(bySid.IotRegistryList.Action).toEqual(
      expect.arrayContaining(['iot:ListThings', 'iot:ListThingTypes', 'iot:ListThingGroups']),
    );
    expect(bySid.RepairSecondary.Resource.every((r) => r.includes(':iot:us-west-2:'))).toBe(true);
    expect(bySid.ReadBothRegions.Resource.some((r) => r.includes(':iot:us-east-1:'))).toBe(true);
    expect(bySid.ReadBothRegions.Action.every((a) => /^iot:(Describe|List|Get)/.test(a))).toBe(true);
    expect(bySid.Cursor).toEqual(expect.objectContaining({ Action: ['ssm:GetParameter', 'ssm:PutParameter'] }));
    expect(bySid.Cursor.Resource).toEqual([expect.stringContaining('aws_ssm_parameter.reconciliation_cursor')]);
    expect(bySid.RecordedFailures.Action).toEqual(['dynamodb:Scan', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']);
    expect(bySid.RecordedFailures.Resource).toEqual([
      expect.stringContaining('aws_dynamodb_table.replication-workflow_failures'),
    ]);
  });

  it('follows the configuration: schedule, disabled, slice size, thing-only mode without certificate rights', () => {
    const custom = synthJson({
      replication: { mode: 'thing-only' },
      reconciliation: { schedule: 'cron(0 3 * * ? *)', enabled: false, thingsPerRun: 42 },
    });
    const rule = resourceNamed(custom, 'aws_cloudwatch_event_rule', 'reconciliation');
    expect(rule.schedule_expression).toBe('cron(0 3 * * ? *)');
    expect(rule.state).toBe('DISABLED');
    expect(resourceNamed(custom, 'aws_lambda_function', 'reconciliation').environment.variables.THINGS_PER_RUN).toBe(
      '42',
    );
    const actions = reconcilePolicy(custom).Statement.flatMap((s) => s.Action);
    expect(actions).not.toContain('iot:RegisterCertificateWithoutCA');
    expect(actions).not.toContain('iot:CreatePolicy');
  });
});
