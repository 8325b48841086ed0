// The reconciliation construct, synthesized (no cloud): schedule, target, permission, cursor,
// least-privilege IAM, secondary provider, and the failure table wired from the workflow.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
    expect(rule.schedule_expression).toBe('rate(15 minutes)');
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
        // Sized to the fleet: 15-minute runs of up to 840 s at 20 % of 10 TPS
        FULL_PASS_HOURS: '24',
        RUN_INTERVAL_SECONDS: '900',
        RUN_BUDGET_SECONDS: '840',
        MAX_THINGS_PER_SECOND: '2',
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

  it('grants the provisioning-readiness checks: CA certificates and provisioning templates by ARN, PassRole only to IoT', () => {
    // Given the synthesized reconciliation policy
    const bySid = Object.fromEntries(reconcilePolicy(tf).Statement.map((s) => [s.Sid, s]));
    // Then the listings (no resource type in IAM) are on *, the rest on cacert/* and provisioningtemplate/* ARNs
    expect(bySid.IotRegistryList.Action).toEqual(
      expect.arrayContaining([
        'iot:ListCACertificates',
        'iot:ListProvisioningTemplates',
        'iot:RegisterCACertificate',
        'iot:ListPolicies',
      ]),
    );
    expect(bySid.ReadBothRegions.Action).toEqual(
      expect.arrayContaining(['iot:DescribeCACertificate', 'iot:DescribeProvisioningTemplate']),
    );
    for (const region of ['us-east-1', 'us-west-2'])
      for (const type of ['cacert', 'provisioningtemplate'])
        expect(bySid.ReadBothRegions.Resource).toContainEqual(
          expect.stringMatching(new RegExp(`:iot:${region}:.*:${type}/\\*$`)),
        );
    expect(bySid.RepairSecondary.Action).toEqual(
      expect.arrayContaining([
        'iot:UpdateCACertificate',
        'iot:DeleteCACertificate',
        'iot:CreateProvisioningTemplate',
        'iot:UpdateProvisioningTemplate',
        'iot:DeleteProvisioningTemplate',
        'iot:CreateProvisioningTemplateVersion',
        'iot:DeleteProvisioningTemplateVersion',
      ]),
    );
    expect(bySid.RepairSecondary.Resource).toContainEqual(
      expect.stringMatching(/:iot:us-west-2:.*:provisioningtemplate\/\*$/),
    );
    expect(bySid.RepairSecondary.Resource.some((r) => r.includes('us-east-1'))).toBe(false);
    // And iam:PassRole (CreateProvisioningTemplate's provisioningRoleArn, the JITP role) only to iot.amazonaws.com
    const pass = reconcilePolicy(tf).Statement.find((s) => s.Action.includes('iam:PassRole')) as unknown as {
      Action: string[];
      Resource: string[];
      Condition: Record<string, Record<string, string>>;
    };
    expect(pass.Action).toEqual(['iam:PassRole']);
    expect(pass.Resource).toEqual([expect.stringMatching(/^arn:.*:iam::.*:role\/\*$/)]);
    expect(pass.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } });
  });

  it('grants every IoT call the provisioning-readiness code makes (read from its source)', () => {
    // Given the commands the provisioning library sends (CA certificates, templates, claim certificates)
    const files = [
      'functions/lib/fleet/provisioning.ts',
      'functions/lib/replication/provisioning-templates.ts',
      'functions/lib/replication/ca-certificates.ts',
    ];
    const commands = new Set(
      files.flatMap((f) =>
        [...readFileSync(join(__dirname, '..', '..', f), 'utf8').matchAll(/(?:new (\w+)Command|paginate(\w+))\(/g)].map(
          (m) => `iot:${m[1] ?? m[2]}`,
        ),
      ),
    );
    expect(commands.size).toBeGreaterThan(15);
    // Then the reconciliation role allows each of them
    const actions = new Set(reconcilePolicy(tf).Statement.flatMap((s) => s.Action));
    expect([...commands].filter((c) => !actions.has(c))).toEqual([]);
  });

  it('follows the configuration: schedule, disabled, slice size, thing-only mode with certificate rights for claim certificates only', () => {
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
    // Thing-only mode replicates no device certificates, but fleet provisioning by claim in the
    // secondary needs the claim certificates and their policies: the same rights as complete mode.
    const actions = reconcilePolicy(custom).Statement.flatMap((s) => s.Action);
    expect(actions).toContain('iot:RegisterCertificateWithoutCA');
    expect(actions).toContain('iot:CreatePolicy');
    expect(actions).toContain('iot:ListProvisioningTemplates');
  });
});
