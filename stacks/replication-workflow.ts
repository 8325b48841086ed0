import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import type { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { LambdaEventSourceMapping } from '@cdktf/provider-aws/lib/lambda-event-source-mapping';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { SfnStateMachine } from '@cdktf/provider-aws/lib/sfn-state-machine';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import { aboveZeroAlarm, queueNotEmptyAlarm } from './alarms';
import { iotArns } from './arns';
import { PRINCIPAL_READ_ACTIONS, PRINCIPAL_WRITE_ACTIONS } from './iot-permissions';
import { type ReplicationTarget, replicationResourceName } from './names';

export { type ReplicationTarget, replicationResourceName };
import { assumeRolePolicy, NodejsFunction, type PolicyStatement, policyDocument } from './nodejs-function';
import { ITEM, type ReplicationTable } from './replication-table';
import { PRINCIPAL_GRACE_ENV } from '../functions/lib/principal-grace';
import {
  principalRetryPolicy,
  type WorkerFamily,
  workflowDefinition,
  worstCaseExecutionSeconds,
  worstCasePrincipalWaitSeconds,
  worstCaseRecordSeconds,
  worstCaseTaskSeconds,
} from './workflow-definition';

/** Longest an Express workflow execution may run. */
const EXPRESS_MAX_SECONDS = 300;

export interface ReplicationWorkflowProps {
  /** The provider of the region this workflow writes (its target): everything here lives there. */
  readonly provider: AwsProvider;
  /**
   * The region it applies events to. `secondary` (both modes) applies the primary's events;
   * `primary` (two-way replication) applies the secondary's. The same construct, library and
   * workflow shape serve both directions: only regions, stream, names and IAM scopes differ.
   * @default 'secondary'
   */
  readonly target?: ReplicationTarget;
  /** The replication table; its replica's stream drives the workflow. */
  readonly table: ReplicationTable;
  /** The resolved configuration (regions, prefix, `replication` section, log retention). */
  readonly config: IotDrConfig;
}

/** Function entry (folder under `functions/`) and physical-name purpose of each worker. */
export const WORKER_ENTRIES: Readonly<Record<WorkerFamily, string>> = {
  thing: 'worker-thing',
  thingType: 'worker-thing-type',
  thingGroup: 'worker-thing-group',
  shadow: 'worker-shadow',
};

/**
 * Lambda filter for the replica stream: new items only, and only events that did not originate
 * in the secondary (loop prevention; the capture rule writes its region into `originRegion`).
 * The second pattern lets an item WITHOUT `originRegion` through, so that the trigger sends it to
 * the DLQ with a reason instead of the filter dropping it silently (`anything-but` never matches
 * a missing field).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
 */
export function streamFilterPatterns(secondaryRegion: string): string[] {
  return [
    JSON.stringify({
      eventName: ['INSERT'],
      dynamodb: { NewImage: { [ITEM.originRegion]: { S: [{ 'anything-but': [secondaryRegion] }] } } },
    }),
    JSON.stringify({ eventName: ['INSERT'], dynamodb: { NewImage: { [ITEM.originRegion]: [{ exists: false }] } } }),
  ];
}

/**
 * The replication engine in the secondary region: the replica stream's event source mapping and
 * trigger function, the Standard Step Functions workflow with its four worker functions, the
 * failure table the workflow's Catch writes, and the encrypted DLQ of records that could not
 * start a workflow, with alarms on both failure paths.
 */
export class ReplicationWorkflow extends Construct {
  public readonly workers: Readonly<Record<WorkerFamily, NodejsFunction>>;
  public readonly trigger: NodejsFunction;
  public readonly stateMachine: SfnStateMachine;
  public readonly stateMachineRole: IamRole;
  public readonly stateMachineLogGroup: CloudwatchLogGroup;
  /** Events the workflow could not apply (hash key `eventId`; see the contract in docs/workflow.md). */
  public readonly failureTable: DynamodbTable;
  /** Stream records that could not start a workflow: rejected by the trigger, or batches Lambda gave up on. */
  public readonly dlq: SqsQueue;
  public readonly eventSourceMapping: LambdaEventSourceMapping;
  public readonly dlqAlarm: CloudwatchMetricAlarm;
  public readonly failedExecutionsAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: ReplicationWorkflowProps) {
    super(scope, id);
    const { config } = props;
    const provider = props.provider;
    const replication = config.replication;
    const target = props.target ?? 'secondary';
    const targetRegion = target === 'secondary' ? config.secondaryRegion : config.primaryRegion;
    const originRegion = target === 'secondary' ? config.primaryRegion : config.secondaryRegion;
    const name = (purpose: string) => replicationResourceName(config.namePrefix, purpose, target);

    const arns = iotArns(this, provider);
    // The library reads both regions (the origin's state, the target's to diff) and writes only the target.
    const bothRegions = (...types: string[]) => arns([originRegion, targetRegion], ...types);
    const targetOnly = (...types: string[]) => arns([targetRegion], ...types);

    // --- Failure table and DLQ --------------------------------------------------------------
    this.failureTable = new DynamodbTable(this, 'failures', {
      provider,
      name: name('failures'),
      billingMode: 'PAY_PER_REQUEST',
      hashKey: 'eventId',
      attribute: [{ name: 'eventId', type: 'S' }],
      ttl: { attributeName: 'expires', enabled: true },
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true },
      deletionProtectionEnabled: replication.tableDeletionProtection,
    });

    this.dlq = new SqsQueue(this, 'dlq', {
      provider,
      name: name('replication-dlq'),
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 14 * 86400,
    });

    // --- Workers ------------------------------------------------------------------------------
    const complete = replication.mode === 'complete';
    const workerStatements: Record<WorkerFamily, PolicyStatement[]> = {
      thing: [
        {
          sid: 'ReadRegistry',
          actions: [
            'iot:DescribeThing',
            'iot:DescribeThingType',
            'iot:ListThingPrincipals',
            'iot:ListNamedShadowsForThing',
            ...(complete ? PRINCIPAL_READ_ACTIONS : []),
          ],
          resources: bothRegions('thing', 'thingtype', ...(complete ? ['cert', 'policy'] : [])),
        },
        {
          sid: 'WriteTargetRegistry',
          actions: [
            'iot:CreateThing',
            'iot:UpdateThing',
            'iot:DeleteThing',
            'iot:AttachThingPrincipal',
            'iot:DetachThingPrincipal',
            'iot:DeleteThingShadow',
            // A thing cannot be created without its type: a missing type is synced by the thing
            // worker too (syncThingType: created and its deprecation copied; updated or deleted
            // when another writer changed it between the reads).
            'iot:CreateThingType',
            'iot:DeprecateThingType',
            'iot:UpdateThingType',
            'iot:DeleteThingType',
            ...(complete ? PRINCIPAL_WRITE_ACTIONS : []),
          ],
          resources: targetOnly('thing', 'thingtype', ...(complete ? ['cert', 'policy'] : [])),
        },
        ...(complete
          ? [
              {
                // A certificate registered without a CA has no ARN before the call, and listing
                // certificates is account-wide: neither action has a resource type in IAM.
                sid: 'IotRegistryList',
                actions: ['iot:RegisterCertificateWithoutCA', 'iot:ListCertificates'],
                resources: ['*'],
              },
            ]
          : []),
      ],
      thingType: [
        { sid: 'ReadRegistry', actions: ['iot:DescribeThingType'], resources: bothRegions('thingtype') },
        {
          sid: 'WriteTargetRegistry',
          actions: ['iot:CreateThingType', 'iot:UpdateThingType', 'iot:DeprecateThingType', 'iot:DeleteThingType'],
          resources: targetOnly('thingtype'),
        },
      ],
      thingGroup: [
        {
          sid: 'ReadRegistry',
          // ListThingsInThingGroup: a recreated group gets the primary's memberships back
          actions: [
            'iot:DescribeThingGroup',
            'iot:DescribeThing',
            'iot:ListThingGroupsForThing',
            'iot:ListThingsInThingGroup',
          ],
          resources: bothRegions('thinggroup', 'thing'),
        },
        {
          sid: 'WriteTargetRegistry',
          actions: [
            'iot:CreateThingGroup',
            'iot:UpdateThingGroup',
            'iot:DeleteThingGroup',
            'iot:AddThingToThingGroup',
            'iot:RemoveThingFromThingGroup',
          ],
          resources: targetOnly('thinggroup', 'thing'),
        },
        // ListThingGroups is account-wide (no resource type in IAM).
        { sid: 'IotRegistryList', actions: ['iot:ListThingGroups'], resources: ['*'] },
      ],
      shadow: [
        {
          sid: 'ReadShadows',
          // One shadow per event: never lists a thing's named shadows (the thing worker does, to delete them).
          actions: ['iot:GetThingShadow'],
          resources: bothRegions('thing'),
        },
        {
          sid: 'WriteTargetShadows',
          actions: ['iot:UpdateThingShadow', 'iot:DeleteThingShadow'],
          resources: targetOnly('thing'),
        },
      ],
    };

    const workerEnvironment = {
      ORIGIN_REGION: originRegion,
      TARGET_REGION: targetRegion,
      // Two-way: both regions take changes, newest shadow field wins (docs/replication.md).
      CONFLICT_POLICY: replication.direction === 'two-way' ? 'merge' : 'mirror',
      REPLICATION_MODE: replication.mode,
      // The same value sizes the workflow's PrincipalPendingError retrier below.
      [PRINCIPAL_GRACE_ENV]: String(replication.principalGraceSeconds),
    };
    const worker = (family: WorkerFamily) =>
      new NodejsFunction(this, `worker-${family}`, {
        provider,
        functionName: name(WORKER_ENTRIES[family]),
        entry: WORKER_ENTRIES[family],
        description: `iot-dr: applies ${family} events from ${originRegion} in ${targetRegion}`,
        environment: workerEnvironment,
        statements: workerStatements[family],
        timeoutSeconds: replication.workerTimeoutSeconds,
        logRetentionDays: config.logRetentionDays,
      });
    this.workers = {
      thing: worker('thing'),
      thingType: worker('thingType'),
      thingGroup: worker('thingGroup'),
      shadow: worker('shadow'),
    };

    // --- State machine ------------------------------------------------------------------------
    const machineName = name('replication');
    const retry = {
      maxAttempts: replication.workflowRetryMaxAttempts,
      intervalSeconds: replication.workflowRetryIntervalSeconds,
      maxDelaySeconds: replication.workflowRetryMaxDelaySeconds,
    };
    // A little above the function timeout, so that Lambda's own timeout (Lambda.Unknown, retried)
    // normally fires first.
    const taskTimeoutSeconds = replication.workerTimeoutSeconds + 10;
    if (replication.workflowType === 'EXPRESS') {
      // An Express execution that hits its 5-minute limit ends without reaching its Catch, so
      // without a failure record: the whole retry budget must fit.
      // https://docs.aws.amazon.com/step-functions/latest/dg/choosing-workflow-type.html
      const grace = replication.principalGraceSeconds;
      const worst = worstCaseExecutionSeconds(retry, taskTimeoutSeconds, grace);
      if (worst > EXPRESS_MAX_SECONDS) {
        const principal = principalRetryPolicy(grace);
        throw new Error(
          `replication.workflowType "EXPRESS" needs the worst-case execution to fit in ${EXPRESS_MAX_SECONDS} s, but the configuration allows ${worst} s: ` +
            `${worstCaseTaskSeconds(retry, taskTimeoutSeconds)} s for the transient-error retrier (replication.workflowRetryMaxAttempts=${retry.maxAttempts}, workflowRetryIntervalSeconds=${retry.intervalSeconds}, workflowRetryMaxDelaySeconds=${retry.maxDelaySeconds}, workerTimeoutSeconds=${replication.workerTimeoutSeconds}), ` +
            `${worstCasePrincipalWaitSeconds(grace, taskTimeoutSeconds)} s for the PrincipalPendingError retrier (replication.principalGraceSeconds=${grace}: ${principal.maxAttempts} retries ${principal.intervalSeconds} s apart, each attempt up to ${taskTimeoutSeconds} s) ` +
            `and ${worstCaseRecordSeconds()} s for the failure recorder: lower them (e.g. 3, 2, 10, 20 and principalGraceSeconds 40) or use "STANDARD"`,
        );
      }
    }
    // The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy small when many
    // state machines log (AWS recommendation for vended logs).
    this.stateMachineLogGroup = new CloudwatchLogGroup(this, 'workflow-logs', {
      provider,
      name: `/aws/vendedlogs/states/${machineName}`,
      retentionInDays: config.logRetentionDays,
    });
    this.stateMachineRole = new IamRole(this, 'workflow-role', {
      provider,
      name: machineName,
      assumeRolePolicy: assumeRolePolicy('states.amazonaws.com'),
    });
    const machinePolicy = new IamRolePolicy(this, 'workflow-policy', {
      provider,
      name: 'least-privilege',
      role: this.stateMachineRole.name,
      policy: policyDocument([
        {
          sid: 'InvokeWorkers',
          actions: ['lambda:InvokeFunction'],
          resources: Object.values(this.workers).map((w) => w.function.arn),
        },
        { sid: 'RecordFailures', actions: ['dynamodb:PutItem'], resources: [this.failureTable.arn] },
        {
          // Step Functions delivers logs through CloudWatch Logs vended-log delivery; these APIs
          // have no resource-level permissions, so IAM accepts only "*" for them.
          // https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy
          sid: 'LogDelivery',
          actions: [
            'logs:CreateLogDelivery',
            'logs:GetLogDelivery',
            'logs:UpdateLogDelivery',
            'logs:DeleteLogDelivery',
            'logs:ListLogDeliveries',
            'logs:PutResourcePolicy',
            'logs:DescribeResourcePolicies',
            'logs:DescribeLogGroups',
          ],
          resources: ['*'],
        },
      ]),
    });

    this.stateMachine = new SfnStateMachine(this, 'workflow', {
      provider,
      name: machineName,
      // STANDARD (default): execution names are idempotency keys for 90 days, so a redelivered
      // stream record never runs twice; 2 transitions per event. EXPRESS: far cheaper at high
      // volume, at-least-once. Arithmetic in docs/workflow.md.
      type: replication.workflowType,
      roleArn: this.stateMachineRole.arn,
      definition: JSON.stringify(
        workflowDefinition({
          workers: {
            thing: this.workers.thing.function.arn,
            thingType: this.workers.thingType.function.arn,
            thingGroup: this.workers.thingGroup.function.arn,
            shadow: this.workers.shadow.function.arn,
          },
          failureTableName: this.failureTable.name,
          failureRetentionDays: replication.failureRetentionDays,
          retry,
          taskTimeoutSeconds,
          principalGraceSeconds: replication.principalGraceSeconds,
        }),
      ),
      loggingConfiguration: {
        logDestination: `${this.stateMachineLogGroup.arn}:*`,
        level: 'ERROR',
        // Events carry thing names, attributes and shadow state: keep them out of the logs.
        includeExecutionData: false,
      },
      // Step Functions checks the role's log-delivery permissions when it creates the machine.
      dependsOn: [this.stateMachineLogGroup, machinePolicy],
    });

    // --- Stream trigger ----------------------------------------------------------------------
    const streamArn = props.table.streamArnIn(target);
    this.trigger = new NodejsFunction(this, 'trigger', {
      provider,
      functionName: name('stream-trigger'),
      entry: 'stream-trigger',
      description: 'iot-dr: starts one replication workflow execution per replicated event',
      environment: {
        STATE_MACHINE_ARN: this.stateMachine.arn,
        DLQ_URL: this.dlq.url,
        // The region the trigger runs in: its own events are not replicated back.
        SECONDARY_REGION: targetRegion,
      },
      statements: [
        {
          sid: 'ReadReplicaStream',
          actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
          resources: [streamArn],
        },
        {
          // ListStreams is authorized against the table's stream path, not one stream label
          // (AWS's own example grants table/<name>/stream/*): the replica table's streams only.
          // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html
          sid: 'ListReplicaStreams',
          actions: ['dynamodb:ListStreams'],
          resources: [`${props.table.arnIn(target)}/stream/*`],
        },
        { sid: 'StartExecutions', actions: ['states:StartExecution'], resources: [this.stateMachine.arn] },
        // Rejected records (the function) and failed batches (the mapping's on-failure destination).
        { sid: 'RejectRecords', actions: ['sqs:SendMessage'], resources: [this.dlq.arn] },
      ],
      timeoutSeconds: 60,
      logRetentionDays: config.logRetentionDays,
    });

    this.eventSourceMapping = new LambdaEventSourceMapping(this, 'stream-mapping', {
      provider,
      functionName: this.trigger.function.arn,
      eventSourceArn: streamArn,
      // TRIM_HORIZON: on first deployment (and if the mapping is ever replaced) the records already
      // in the stream (24 h) are processed too, so nothing captured before the mapping existed is
      // lost; replays are harmless because execution names deduplicate for 90 days.
      startingPosition: 'TRIM_HORIZON',
      batchSize: replication.batchSize,
      maximumBatchingWindowInSeconds: replication.maximumBatchingWindowSeconds,
      functionResponseTypes: ['ReportBatchItemFailures'],
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: replication.maximumRetryAttempts,
      maximumRecordAgeInSeconds: replication.maximumRecordAgeSeconds,
      filterCriteria: { filter: streamFilterPatterns(targetRegion).map((pattern) => ({ pattern })) },
      destinationConfig: { onFailure: { destinationArn: this.dlq.arn } },
      metricsConfig: { metrics: ['EventCount'] },
      // Lambda checks that the role can read the stream when it creates the mapping.
      dependsOn: [this.trigger.node.findChild('policy') as IamRolePolicy, this.trigger.function],
    });

    // --- Alarms (no action here: the stack wires its alarm topic where it has one) ------------
    this.dlqAlarm = queueNotEmptyAlarm(this, 'dlq-alarm', {
      provider,
      alarmName: name('replication-dlq-not-empty'),
      alarmDescription: 'iot-dr: stream records could not start a replication workflow; see the DLQ messages',
      queue: this.dlq,
    });
    this.failedExecutionsAlarm = aboveZeroAlarm(this, 'failed-executions-alarm', {
      provider,
      alarmName: name('replication-failures'),
      alarmDescription: 'iot-dr: replication executions failed; see the failure table',
      namespace: 'AWS/States',
      metricName: 'ExecutionsFailed',
      dimensions: { StateMachineArn: this.stateMachine.arn },
      statistic: 'Sum',
    });
  }
}
