// The reconciliation construct, synthesized (no cloud): schedule, target, permission, cursor,
// least-privilege IAM, provider, and the failure table wired from the workflow; in two-way mode
// (default) one instance per direction: `reconciliation` in the secondary (primary -> secondary)
// and `primary-reconciliation` in the primary (secondary -> primary, names ending -to-primary).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const PREFIX = 'iot-dr';
/** Construct id of the forward (secondary) instance; the reverse one is `primary-reconciliation`. */
const FORWARD = 'reconciliation';
const REVERSE = 'primary-reconciliation';

/** The one resource of a type belonging to the instance `instance` (logical ids start with its construct id). */
function resourceNamed(tf: TerraformJson, type: string, instance: string, fragment = ''): Record<string, any> {
  const hits = resourcesOf(tf, type).filter(([id]) => id.startsWith(`${instance}_`) && id.includes(fragment));
  if (hits.length !== 1) throw new Error(`expected one ${type} of ${instance} matching "${fragment}", found ${hits.map(([id]) => id).join(', ') || 'none'}`);
  return hits[0][1];
}

type Policy = { Statement: { Sid: string; Action: string[]; Resource: string[] }[] };
function reconcilePolicy(tf: TerraformJson, instance = FORWARD): Policy {
  return JSON.parse(resourceNamed(tf, 'aws_iam_role_policy', instance, 'function_policy').policy);
}

describe('Construct: Reconciliation', () => {
  const tf = synthJson({});

  it('runs the function in the secondary on the configured schedule', () => {
    const rule = resourceNamed(tf, 'aws_cloudwatch_event_rule', FORWARD);
    expect(rule.schedule_expression).toBe('rate(15 minutes)');
    expect(rule.state).toBe('ENABLED');
    expect(rule.provider).toBe('aws.secondary');
    const fn = resourceNamed(tf, 'aws_lambda_function', FORWARD);
    expect(fn.provider).toBe('aws.secondary');
    expect(fn.function_name).toBe(`${PREFIX}-reconcile`);
    expect(fn.reserved_concurrent_executions).toBe(1);
    expect(fn.environment.variables).toEqual(
      expect.objectContaining({
        ORIGIN_REGION: 'us-east-1',
        TARGET_REGION: 'us-west-2',
        REPLICATION_MODE: 'complete',
        CONFLICT_POLICY: 'merge',
        THINGS_PER_RUN: '500',
        // Sized to the fleet: 15-minute runs of up to 840 s at half (two-way: two instances) of
        // 25 % of 10 TPS
        FULL_PASS_HOURS: '24',
        RUN_INTERVAL_SECONDS: '900',
        RUN_BUDGET_SECONDS: '840',
        MAX_THINGS_PER_SECOND: '1.25',
        FAILURE_TABLE: expect.stringContaining('aws_dynamodb_table.replication-workflow_failures'),
        CURSOR_PARAMETER: expect.stringContaining('aws_ssm_parameter.reconciliation_cursor'),
      }),
    );
  });

  it('targets the function, lets only that rule invoke it, and bounds retries with a DLQ', () => {
    const target = resourceNamed(tf, 'aws_cloudwatch_event_target', FORWARD);
    expect(target.arn).toContain('aws_lambda_function.reconciliation_function_');
    expect(target.retry_policy).toEqual({ maximum_retry_attempts: 2, maximum_event_age_in_seconds: 3600 });
    const permission = resourceNamed(tf, 'aws_lambda_permission', FORWARD);
    expect(permission.principal).toBe('events.amazonaws.com');
    expect(permission.source_arn).toContain('aws_cloudwatch_event_rule.reconciliation_schedule');
    const invoke = resourceNamed(tf, 'aws_lambda_function_event_invoke_config', FORWARD);
    expect(invoke.maximum_retry_attempts).toBe(0);
    expect(invoke.destination_config.on_failure.destination).toContain('aws_sqs_queue.reconciliation_dlq');
    expect(resourceNamed(tf, 'aws_sqs_queue', FORWARD, 'dlq').sqs_managed_sse_enabled).toBe(true);
  });

  it('keeps the cursor in an encrypted SSM parameter the function owns', () => {
    const cursor = resourceNamed(tf, 'aws_ssm_parameter', FORWARD);
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
    expect(bySid.RepairTarget.Resource.every((r) => r.includes(':iot:us-west-2:'))).toBe(true);
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
    expect(bySid.RepairTarget.Action).toEqual(
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
    expect(bySid.RepairTarget.Resource).toContainEqual(
      expect.stringMatching(/:iot:us-west-2:.*:provisioningtemplate\/\*$/),
    );
    expect(bySid.RepairTarget.Resource.some((r) => r.includes('us-east-1'))).toBe(false);
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

  it('grants every IoT call the provisioning-readiness code makes (read from its source), in both directions', () => {
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
    // Then the role of each instance (both directions) allows each of them
    for (const instance of [FORWARD, REVERSE]) {
      const actions = new Set(reconcilePolicy(tf, instance).Statement.flatMap((s) => s.Action));
      expect([...commands].filter((c) => !actions.has(c))).toEqual([]);
    }
  });

  it('follows the configuration: schedule, disabled, slice size, thing-only mode with certificate rights for claim certificates only', () => {
    const custom = synthJson({
      replication: { mode: 'thing-only' },
      reconciliation: { schedule: 'cron(0 3 * * ? *)', enabled: false, thingsPerRun: 42 },
    });
    const rule = resourceNamed(custom, 'aws_cloudwatch_event_rule', FORWARD);
    expect(rule.schedule_expression).toBe('cron(0 3 * * ? *)');
    expect(rule.state).toBe('DISABLED');
    expect(resourceNamed(custom, 'aws_lambda_function', FORWARD).environment.variables.THINGS_PER_RUN).toBe(
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

describe('Construct: Reconciliation, one instance per direction', () => {
  const tf = synthJson({});
  const iotRegion = (arn: string) => /:iot:([a-z0-9-]+):/.exec(arn)?.[1];
  const directions = [
    { instance: FORWARD, provider: 'aws.secondary', origin: 'us-east-1', target: 'us-west-2', suffix: '', workflow: 'replication-workflow' },
    { instance: REVERSE, provider: 'aws.primary', origin: 'us-west-2', target: 'us-east-1', suffix: '-to-primary', workflow: 'primary-replication' },
  ];

  it.each(directions)('$instance: every resource in the region it repairs ($provider)', ({ instance, provider }) => {
    const providers = Object.keys(tf.resource).flatMap((type) =>
      resourcesOf(tf, type)
        .filter(([id]) => id.startsWith(`${instance}_`))
        .map(([, body]) => body.provider),
    );
    // function, role, policy, log group, rule, target, permission, invoke config, cursor, DLQ, alarm
    expect(providers.length).toBeGreaterThanOrEqual(11);
    expect(new Set(providers)).toEqual(new Set([provider]));
  });

  it.each(directions)(
    '$instance: names end in "$suffix", reads $origin and writes $target, on the shared schedule with half the quota share',
    ({ instance, origin, target, suffix }) => {
      const fn = resourceNamed(tf, 'aws_lambda_function', instance);
      expect(fn.function_name).toBe(`${PREFIX}-reconcile${suffix}`);
      expect(fn.reserved_concurrent_executions).toBe(1);
      expect(fn.environment.variables).toMatchObject({
        ORIGIN_REGION: origin,
        TARGET_REGION: target,
        CONFLICT_POLICY: 'merge',
        MAX_THINGS_PER_SECOND: '1.25',
        RUN_BUDGET_SECONDS: '840',
      });
      expect(fn.environment.variables).not.toHaveProperty('PRIMARY_REGION');
      expect(resourceNamed(tf, 'aws_ssm_parameter', instance).name).toBe(`/${PREFIX}/reconciliation/cursor${suffix}`);
      expect(resourceNamed(tf, 'aws_sqs_queue', instance, 'dlq').name).toBe(`${PREFIX}-reconcile-dlq${suffix}`);
      expect(resourceNamed(tf, 'aws_cloudwatch_metric_alarm', instance).alarm_name).toBe(`${PREFIX}-reconcile-failed${suffix}`);
      expect(resourceNamed(tf, 'aws_cloudwatch_event_rule', instance).schedule_expression).toBe('rate(15 minutes)');
      expect(resourceNamed(tf, 'aws_iam_role', instance).name).toBe(`${PREFIX}-reconcile${suffix}`);
    },
  );

  it.each(directions)(
    '$instance: writes only $target, reads both regions, failure-table actions on its own direction\'s table only',
    ({ instance, origin, target, workflow }) => {
      const policy = reconcilePolicy(tf, instance);
      const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));
      expect(new Set(bySid.RepairTarget.Resource.map(iotRegion))).toEqual(new Set([target]));
      expect(new Set(bySid.ReadBothRegions.Resource.map(iotRegion))).toEqual(new Set([origin, target]));
      // No other statement names an IoT ARN: only ReadBothRegions may touch the origin region.
      for (const s of policy.Statement.filter((x) => !['RepairTarget', 'ReadBothRegions'].includes(x.Sid))) {
        expect(s.Resource.filter((r) => r.includes(':iot:'))).toEqual([]);
      }
      const failureTable = resourcesOf(tf, 'aws_dynamodb_table').find(([id]) => id.startsWith(`${workflow}_failures`));
      expect(bySid.RecordedFailures.Resource).toEqual([`\${aws_dynamodb_table.${failureTable?.[0]}.arn}`]);
      expect(bySid.Cursor.Resource).toEqual([expect.stringMatching(new RegExp(`^\\$\\{aws_ssm_parameter\\.${instance}_cursor_`))]);
      expect(bySid.DeadLetters.Resource).toEqual([expect.stringMatching(new RegExp(`^\\$\\{aws_sqs_queue\\.${instance}_dlq_`))]);
      expect(resourceNamed(tf, 'aws_lambda_function', instance).environment.variables.FAILURE_TABLE).toBe(
        `\${aws_dynamodb_table.${failureTable?.[0]}.name}`,
      );
      // The conflict rule's bookkeeping (merge): Query on this region's copy of the replication table's three indexes only
      const events = resourcesOf(tf, 'aws_dynamodb_table').find(([, t]) => t.name === `${PREFIX}-events`)?.[0];
      expect(bySid.ReadTombstones).toEqual(expect.objectContaining({ Action: ['dynamodb:Query'] }));
      const tableArn = target === 'us-east-1' ? `\${aws_dynamodb_table.${events}.arn}` : `\${tolist(aws_dynamodb_table.${events}.replica).0.arn}`;
      expect(bySid.ReadTombstones.Resource).toEqual(['deletions', 'changes', 'removals'].map((index) => `${tableArn}/index/${index}`));
      expect(resourceNamed(tf, 'aws_lambda_function', instance).environment.variables.TABLE_NAME).toBe(
        `\${aws_dynamodb_table.${events}.name}`,
      );
    },
  );

  it('outputs both function names', () => {
    expect(tf.output?.reconciliation_function_name?.value).toEqual(expect.stringContaining(`aws_lambda_function.${FORWARD}_`));
    expect(tf.output?.primary_reconciliation_function_name?.value).toEqual(expect.stringContaining(`aws_lambda_function.${REVERSE}_`));
  });

  it('one-way replication has one instance, in the secondary, with the whole quota share', () => {
    const oneWay = synthJson({ replication: { direction: 'one-way' } });
    const functions = resourcesOf(oneWay, 'aws_lambda_function').filter(([, f]) => f.function_name.startsWith(`${PREFIX}-reconcile`));
    expect(functions.map(([, f]) => [f.function_name, f.provider])).toEqual([[`${PREFIX}-reconcile`, 'aws.secondary']]);
    expect(functions[0][1].environment.variables).toMatchObject({
      ORIGIN_REGION: 'us-east-1',
      TARGET_REGION: 'us-west-2',
      CONFLICT_POLICY: 'mirror',
      MAX_THINGS_PER_SECOND: '2.5',
    });
    expect(oneWay.output?.primary_reconciliation_function_name).toBeUndefined();
    // mirror: no tombstone lookups
    expect(functions[0][1].environment.variables).not.toHaveProperty('TABLE_NAME');
    expect(reconcilePolicy(oneWay).Statement.map((st) => st.Sid)).not.toContain('ReadTombstones');
  });
});
