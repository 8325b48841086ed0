// Construct: ReplicationWorkflow, as synthesized into the stack's Terraform JSON.
import aslValidator from 'asl-validator';
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';
import { PRINCIPAL_PENDING_ERROR, STATE, TRANSIENT_ERRORS, WORKER_STATE } from '../../stacks/workflow-definition';

const CONFIG = {
  primaryRegion: 'eu-west-1',
  secondaryRegion: 'eu-central-1',
  replication: {
    batchSize: 25,
    maximumBatchingWindowSeconds: 5,
    maximumRetryAttempts: 3,
    maximumRecordAgeSeconds: 3600,
    workflowRetryMaxAttempts: 4,
    workflowRetryIntervalSeconds: 3,
    workflowRetryMaxDelaySeconds: 45,
    failureRetentionDays: 10,
    workerTimeoutSeconds: 50,
    principalGraceSeconds: 90,
    // The per-event Standard workflow (these retry settings do not fit EXPRESS's budget).
    workflowType: 'STANDARD',
  },
} as const;

/** Resources created by the construct (logical ids carry its path). */
const ours = (tf: TerraformJson, type: string) =>
  resourcesOf(tf, type).filter(([id]) => id.startsWith('replication-workflow'));
const one = (tf: TerraformJson, type: string, fragment = '') => {
  const hits = ours(tf, type).filter(([id]) => id.includes(fragment));
  if (hits.length !== 1)
    throw new Error(`expected one ${type} "${fragment}", got ${hits.map(([id]) => id).join(', ')}`);
  return hits[0][1];
};
const ref = (type: string, body: Record<string, any>, attr: string, tf: TerraformJson) => {
  const id = ours(tf, type).find(([, b]) => b === body)![0];
  return `\${${type}.${id}.${attr}}`;
};
const policyOf = (tf: TerraformJson, fragment: string) =>
  JSON.parse(one(tf, 'aws_iam_role_policy', fragment).policy) as {
    Statement: Array<{ Sid: string; Action: string[]; Resource: string[] }>;
  };

describe('Construct: ReplicationWorkflow', () => {
  const tf = synthJson(CONFIG);

  it('puts every resource it creates in the secondary region', () => {
    const providers = Object.keys(tf.resource).flatMap((type) => ours(tf, type).map(([, body]) => body.provider));
    expect(providers.length).toBeGreaterThan(20);
    expect(new Set(providers)).toEqual(new Set(['aws.secondary']));
    for (const type of Object.keys(tf.data ?? {})) {
      for (const [id, body] of Object.entries(tf.data![type])) {
        if (id.startsWith('replication-workflow')) expect(body.provider).toBe('aws.secondary');
      }
    }
  });

  it('maps the replica stream to the trigger with the configured batching, filter, retries and DLQ', () => {
    const mapping = one(tf, 'aws_lambda_event_source_mapping');
    const dlq = one(tf, 'aws_sqs_queue', 'dlq');
    const trigger = one(tf, 'aws_lambda_function', 'trigger');
    expect(mapping).toMatchObject({
      event_source_arn: expect.stringMatching(
        /^\$\{tolist\(aws_dynamodb_table\.replication-table_[^.]+\.replica\)\.0\.stream_arn\}$/,
      ),
      function_name: ref('aws_lambda_function', trigger, 'arn', tf),
      starting_position: 'TRIM_HORIZON',
      batch_size: 25,
      maximum_batching_window_in_seconds: 5,
      function_response_types: ['ReportBatchItemFailures'],
      bisect_batch_on_function_error: true,
      maximum_retry_attempts: 3,
      maximum_record_age_in_seconds: 3600,
      destination_config: { on_failure: { destination_arn: ref('aws_sqs_queue', dlq, 'arn', tf) } },
    });
    const patterns = mapping.filter_criteria.filter.map((f: { pattern: string }) => JSON.parse(f.pattern));
    expect(patterns).toEqual([
      {
        eventName: ['INSERT'],
        dynamodb: { NewImage: { originRegion: { S: [{ 'anything-but': ['eu-central-1'] }] } } },
      },
      { eventName: ['INSERT'], dynamodb: { NewImage: { originRegion: { S: [{ exists: false }] } } } },
    ]);
    // AWS applies `exists` to leaf values only; in a stream record `originRegion` is an object
    // ({"S": ...}), so an `exists` on it would match every INSERT. Every `exists` must sit under an
    // attribute-value type key (the leaf).
    const existsParents: string[] = [];
    const walk = (node: unknown, key: string) => {
      if (Array.isArray(node)) {
        for (const v of node) if (v && typeof v === 'object' && 'exists' in v) existsParents.push(key);
        return;
      }
      if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) walk(v, k);
    };
    for (const p of patterns) walk(p, '');
    expect(existsParents.length).toBeGreaterThan(0);
    for (const k of existsParents) expect(['S', 'N', 'B', 'BOOL', 'NULL']).toContain(k);
  });

  it('encrypts the DLQ and keeps messages 14 days, and alarms when it is not empty', () => {
    const dlq = one(tf, 'aws_sqs_queue', 'dlq');
    expect(dlq).toMatchObject({
      name: 'iot-dr-replication-dlq',
      sqs_managed_sse_enabled: true,
      message_retention_seconds: 1209600,
    });
    expect(one(tf, 'aws_cloudwatch_metric_alarm', 'dlq-alarm')).toMatchObject({
      namespace: 'AWS/SQS',
      metric_name: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: ref('aws_sqs_queue', dlq, 'name', tf) },
      threshold: 0,
      comparison_operator: 'GreaterThanThreshold',
    });
  });

  it('creates the failure table of the contract: eventId key, on-demand, encrypted, PITR, TTL on expires', () => {
    expect(one(tf, 'aws_dynamodb_table', 'failures')).toMatchObject({
      name: 'iot-dr-failures',
      hash_key: 'eventId',
      attribute: [{ name: 'eventId', type: 'S' }],
      billing_mode: 'PAY_PER_REQUEST',
      server_side_encryption: { enabled: true },
      point_in_time_recovery: { enabled: true },
      ttl: { attribute_name: 'expires', enabled: true },
    });
  });

  it('creates a Standard state machine whose definition is valid ASL with the configured retry policy', () => {
    const machine = one(tf, 'aws_sfn_state_machine');
    expect(machine.type).toBe('STANDARD');
    // Terraform references stand for ARNs at apply time: give them ARN shapes to validate.
    const resolved = (machine.definition as string)
      .replace(/\$\{aws_lambda_function\.([^.}]+)\.arn\}/g, 'arn:aws:lambda:eu-central-1:123456789012:function:$1')
      .replace(/\$\{aws_dynamodb_table\.[^.}]+\.name\}/g, 'iot-dr-failures');
    const definition = JSON.parse(resolved);
    const { isValid, errorsText } = aslValidator(definition);
    expect(errorsText('\n')).toBe('');
    expect(isValid).toBe(true);
    const task = definition.States[WORKER_STATE.thing];
    // principalGraceSeconds 90: 5 retries 20 s apart (100 s of waits >= 90 s), before the generic rule
    expect(task.Retry[0]).toEqual({
      ErrorEquals: [PRINCIPAL_PENDING_ERROR],
      IntervalSeconds: 20,
      BackoffRate: 1,
      MaxAttempts: 5,
      JitterStrategy: 'NONE',
    });
    expect(task.Retry[1]).toMatchObject({
      IntervalSeconds: 3,
      MaxAttempts: 4,
      MaxDelaySeconds: 45,
      BackoffRate: 2,
      JitterStrategy: 'FULL',
    });
    expect(task.TimeoutSeconds).toBe(60);
    const workers = ['worker-thing', 'worker-thingType', 'worker-thingGroup', 'worker-shadow'].map((w) =>
      ref('aws_lambda_function', one(tf, 'aws_lambda_function', `${w}_`), 'arn', tf),
    );
    expect(Object.values(WORKER_STATE).map((s) => JSON.parse(machine.definition).States[s].Resource)).toEqual(workers);
    expect(JSON.parse(machine.definition).States[STATE.recordFailure].Parameters.TableName).toBe(
      ref('aws_dynamodb_table', one(tf, 'aws_dynamodb_table', 'failures'), 'name', tf),
    );
    expect(definition.States[STATE.recordFailure].Parameters.Item.expires['N.$']).toContain(String(10 * 86400));
  });

  it('logs the state machine to its own log group, errors only, without execution data', () => {
    const machine = one(tf, 'aws_sfn_state_machine');
    const logs = one(tf, 'aws_cloudwatch_log_group', 'workflow-logs');
    expect(logs.name).toBe('/aws/vendedlogs/states/iot-dr-replication');
    expect(machine.logging_configuration).toEqual({
      level: 'ERROR',
      include_execution_data: false,
      log_destination: `${ref('aws_cloudwatch_log_group', logs, 'arn', tf)}:*`,
    });
  });

  it('lets Step Functions assume the state machine role only for this state machine (confused deputy)', () => {
    // Given the state machine and its role
    const machine = one(tf, 'aws_sfn_state_machine');
    const role = ours(tf, 'aws_iam_role').find(([, r]) => r.name === machine.name)![1];
    // Then the trust is limited to this account and this state machine's ARN in the secondary
    const [statement, ...more] = JSON.parse(role.assume_role_policy).Statement;
    expect(more).toEqual([]);
    expect(statement.Principal).toEqual({ Service: 'states.amazonaws.com' });
    expect(statement.Condition.StringEquals['aws:SourceAccount']).toMatch(
      /^\$\{data\.aws_caller_identity\.[\w-]+\.account_id\}$/,
    );
    expect(statement.Condition.ArnLike['aws:SourceArn']).toMatch(
      new RegExp(
        `^arn:\\$\\{data\\.aws_partition\\.[\\w-]+\\.partition\\}:states:eu-central-1:\\$\\{data\\.aws_caller_identity\\.[\\w-]+\\.account_id\\}:stateMachine:${machine.name}$`,
      ),
    );
  });

  it('gives the workers their regions, mode and the principal grace the workflow retrier is sized from', () => {
    for (const w of ['worker-thing_', 'worker-thingType_', 'worker-thingGroup_', 'worker-shadow_']) {
      expect(one(tf, 'aws_lambda_function', w)).toMatchObject({
        runtime: 'nodejs22.x',
        timeout: 50,
        environment: {
          variables: {
            ORIGIN_REGION: 'eu-west-1',
            TARGET_REGION: 'eu-central-1',
            CONFLICT_POLICY: 'merge',
            REPLICATION_MODE: 'complete',
            PRINCIPAL_GRACE_SECONDS: '90',
          },
        },
      });
    }
    // The default configuration passes the default grace, and sizes the slow lane's retrier from it.
    const defaults = synthJson({});
    const thing = one(defaults, 'aws_lambda_function', 'worker-thing_');
    expect(thing.environment.variables.PRINCIPAL_GRACE_SECONDS).toBe('300');
    const retrier = JSON.parse(one(defaults, 'aws_sfn_state_machine', 'slow-lane').definition).States[WORKER_STATE.thing].Retry[0];
    expect(retrier.MaxAttempts * retrier.IntervalSeconds).toBeGreaterThanOrEqual(300);
  });

  describe('IAM', () => {
    it('never grants a wildcard action, and `*` resources only where the API has no resource type', () => {
      for (const [id, body] of ours(tf, 'aws_iam_role_policy')) {
        for (const s of JSON.parse(body.policy).Statement) {
          for (const a of s.Action) expect(`${id}: ${a}`).not.toMatch(/(^|:)\*$/);
          if (s.Resource.includes('*'))
            expect([`${id}`, s.Sid]).toEqual([id, expect.stringMatching(/^(LogDelivery|IotRegistryList)$/)]);
        }
      }
    });

    it('lets the trigger read only the replica stream, start only the state machine and send only to the DLQ', () => {
      const statements = policyOf(tf, 'trigger').Statement.filter((s) => s.Sid !== 'OwnLogs');
      const stream = one(tf, 'aws_lambda_event_source_mapping').event_source_arn;
      expect(statements).toEqual([
        {
          Sid: 'ReadReplicaStream',
          Effect: 'Allow',
          Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
          Resource: [stream],
        },
        {
          Sid: 'ListReplicaStreams',
          Effect: 'Allow',
          Action: ['dynamodb:ListStreams'],
          Resource: [
            expect.stringMatching(
              /^\$\{tolist\(aws_dynamodb_table\.replication-table_[^.]+\.replica\)\.0\.arn\}\/stream\/\*$/,
            ),
          ],
        },
        {
          Sid: 'StartExecutions',
          Effect: 'Allow',
          Action: ['states:StartExecution'],
          Resource: [ref('aws_sfn_state_machine', one(tf, 'aws_sfn_state_machine'), 'arn', tf)],
        },
        {
          Sid: 'RejectRecords',
          Effect: 'Allow',
          Action: ['sqs:SendMessage'],
          Resource: [ref('aws_sqs_queue', one(tf, 'aws_sqs_queue', 'dlq'), 'arn', tf)],
        },
      ]);
    });

    it('lets the state machine invoke only the four workers and write only the failure table', () => {
      const statements = policyOf(tf, 'workflow-policy').Statement;
      const invoke = statements.find((s) => s.Sid === 'InvokeWorkers')!;
      expect(invoke.Action).toEqual(['lambda:InvokeFunction']);
      expect(invoke.Resource).toHaveLength(4);
      for (const r of invoke.Resource)
        expect(r).toMatch(/^\$\{aws_lambda_function\.replication-workflow_worker-[A-Za-z]+_function_[^.]+\.arn\}$/);
      expect(statements.find((s) => s.Sid === 'RecordFailures')).toMatchObject({
        Action: ['dynamodb:PutItem'],
        Resource: [ref('aws_dynamodb_table', one(tf, 'aws_dynamodb_table', 'failures'), 'arn', tf)],
      });
      expect(statements.map((s) => s.Sid)).toEqual(['InvokeWorkers', 'RecordFailures', 'LogDelivery']);
    });

    it('lets the workers write only in the secondary region, on their own resource types', () => {
      for (const w of ['worker-thing_', 'worker-thingType_', 'worker-thingGroup_', 'worker-shadow_']) {
        const statements = policyOf(tf, w).Statement;
        const writes = statements.filter((s) => s.Sid.startsWith('Write'));
        expect(writes).toHaveLength(1);
        for (const r of writes[0].Resource)
          expect(r).toMatch(
            /^arn:\$\{data\.aws_partition\.[^}]+\}:iot:eu-central-1:\$\{data\.aws_caller_identity\.[^}]+\}:(thing|thingtype|thinggroup|cert|policy)\/\*$/,
          );
        for (const s of statements.filter((x) => x.Sid.startsWith('Read') && x.Sid !== 'ReadTombstones')) {
          for (const r of s.Resource) expect(r).toMatch(/:iot:(eu-west-1|eu-central-1):/);
          for (const a of s.Action) expect(a).toMatch(/^iot:(Describe|List|Get)/);
        }
      }
      expect(policyOf(tf, 'worker-shadow_').Statement.find((s) => s.Sid === 'WriteTargetShadows')!.Action).toEqual([
        'iot:UpdateThingShadow',
        'iot:DeleteThingShadow',
      ]);
    });

    // The IAM drift guard is per worker: __tests__/workflow/worker-iam.test.ts checks each worker's
    // deployed bundle against its own role (every call granted, every grant used), in both modes.

    it('lets the thing worker create a missing thing type in the secondary (a thing needs its type)', () => {
      const write = policyOf(tf, 'worker-thing_').Statement.find((s) => s.Sid === 'WriteTargetRegistry')!;
      expect(write.Action).toEqual(expect.arrayContaining(['iot:CreateThingType', 'iot:DeprecateThingType']));
    });

    it('grants no certificate or policy action to the thing worker in thing-only mode', () => {
      const thingOnly = synthJson({ replication: { mode: 'thing-only' } });
      const actions = policyOf(thingOnly, 'worker-thing_').Statement.flatMap((s) => s.Action);
      expect(actions.filter((a) => /Certificate|Polic/.test(a))).toEqual([]);
      expect(actions).toEqual(expect.arrayContaining(['iot:CreateThing', 'iot:DetachThingPrincipal']));
    });
  });

  describe('workflow type', () => {
    const resolve = (definition: string) =>
      JSON.parse(
        definition
          .replace(/\$\{aws_lambda_function\.([^.}]+)\.arn\}/g, 'arn:aws:lambda:us-west-2:123456789012:function:$1')
          .replace(/\$\{aws_sfn_state_machine\.([^.}]+)\.arn\}/g, 'arn:aws:states:us-west-2:123456789012:stateMachine:$1')
          .replace(/\$\{aws_dynamodb_table\.[^.}]+\.name\}/g, 'iot-dr-failures'),
      );

    it('Given the defaults, Then an Express batch workflow (Map over the batch, no certificate wait) and a Standard slow lane that waits are synthesized, and the trigger starts the batch synchronously', () => {
      const dflt = synthJson({});
      const machines = ours(dflt, 'aws_sfn_state_machine');
      expect(machines.map(([, m]) => [m.name, m.type]).sort()).toEqual([
        ['iot-dr-replication', 'EXPRESS'],
        ['iot-dr-replication-slow-lane', 'STANDARD'],
      ]);
      const batch = machines.find(([, m]) => m.type === 'EXPRESS')![1];
      const slow = machines.find(([, m]) => m.type === 'STANDARD')![1];
      for (const m of [batch, slow]) {
        const { isValid, errorsText } = aslValidator(resolve(m.definition));
        expect(errorsText('\n')).toBe('');
        expect(isValid).toBe(true);
      }
      const map = resolve(batch.definition).States[STATE.batch];
      expect(map).toMatchObject({ Type: 'Map', ItemsPath: '$.events', MaxConcurrency: 40, ItemProcessor: { ProcessorConfig: { Mode: 'INLINE' } } });
      const task = map.ItemProcessor.States[WORKER_STATE.thing];
      // Hot path: only the transient retrier (defaults 3 retries, 2 s doubling, capped at 10 s).
      expect(task.Retry).toEqual([
        { ErrorEquals: [...TRANSIENT_ERRORS], IntervalSeconds: 2, BackoffRate: 2, MaxAttempts: 3, MaxDelaySeconds: 10, JitterStrategy: 'FULL' },
      ]);
      expect(task.TimeoutSeconds).toBe(30);
      expect(task.Catch[0]).toEqual({ ErrorEquals: [PRINCIPAL_PENDING_ERROR], ResultPath: null, Next: STATE.deferToSlowLane });
      const defer = map.ItemProcessor.States[STATE.deferToSlowLane];
      expect(defer.Resource).toBe('arn:aws:states:::states:startExecution');
      expect(JSON.parse(batch.definition).States[STATE.batch].ItemProcessor.States[STATE.deferToSlowLane].Parameters.StateMachineArn).toBe(
        ref('aws_sfn_state_machine', slow, 'arn', dflt),
      );
      // The slow lane waits: 15 retries 20 s apart for the default 300 s grace.
      expect(resolve(slow.definition).States[WORKER_STATE.thing].Retry[0]).toMatchObject({ ErrorEquals: [PRINCIPAL_PENDING_ERROR], MaxAttempts: 15, IntervalSeconds: 20 });

      const trigger = one(dflt, 'aws_lambda_function', 'trigger');
      expect(trigger.timeout).toBe(330);
      expect(trigger.environment.variables).toMatchObject({ WORKFLOW_TYPE: 'EXPRESS', STATE_MACHINE_ARN: ref('aws_sfn_state_machine', batch, 'arn', dflt) });
      const triggerStatements = policyOf(dflt, 'trigger').Statement;
      expect(triggerStatements.find((st) => st.Sid === 'StartSyncExecutions')).toMatchObject({
        Action: ['states:StartSyncExecution'],
        Resource: [ref('aws_sfn_state_machine', batch, 'arn', dflt)],
      });
      expect(triggerStatements.flatMap((st) => st.Action)).not.toContain('states:StartExecution');
      // The machines' role may start the slow lane, and only it.
      expect(policyOf(dflt, 'workflow-slow-lane-policy').Statement).toEqual([
        { Sid: 'StartSlowLane', Effect: 'Allow', Action: ['states:StartExecution'], Resource: [ref('aws_sfn_state_machine', slow, 'arn', dflt)] },
      ]);
      // Failures: recorded events of batches (trigger metric) and failed slow-lane executions.
      expect(one(dflt, 'aws_cloudwatch_metric_alarm', 'failed-events-alarm')).toMatchObject({
        namespace: 'IotDr',
        metric_name: 'FailedEventsRecorded',
        dimensions: { service: 'stream-trigger' },
      });
      expect(one(dflt, 'aws_cloudwatch_metric_alarm', 'failed-executions-alarm').dimensions).toEqual({
        StateMachineArn: ref('aws_sfn_state_machine', slow, 'arn', dflt),
      });
    });

    it('Given workflowType STANDARD, Then one per-event Standard machine and no slow lane, started per record', () => {
      const machines = ours(tf, 'aws_sfn_state_machine');
      expect(machines.map(([, m]) => m.type)).toEqual(['STANDARD']);
      expect(one(tf, 'aws_lambda_function', 'trigger').environment.variables.WORKFLOW_TYPE).toBe('STANDARD');
      expect(ours(tf, 'aws_cloudwatch_log_group').some(([id]) => id.includes('slow-lane'))).toBe(false);
      expect(ours(tf, 'aws_cloudwatch_metric_alarm').some(([id]) => id.includes('failed-events'))).toBe(false);
    });

    it('Given EXPRESS with a retry budget that cannot finish in time, Then the synth stops with a configuration error naming the fields (the rule itself: __tests__/config)', () => {
      expect(() => synthJson({ replication: { workflowType: 'EXPRESS', workerTimeoutSeconds: 60, workflowRetryMaxAttempts: 6 } })).toThrow(
        /replication\.workflowType: an EXPRESS batch must finish within 240 s/,
      );
    });
  });

  it('outputs the state machine, failure table and DLQ', () => {
    expect(Object.keys(tf.output ?? {})).toEqual(
      expect.arrayContaining([
        'replication_state_machine_arn',
        'replication_failure_table_name',
        'replication_dlq_url',
      ]),
    );
  });
});
