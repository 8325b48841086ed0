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
import { CHANGES_INDEX, DELETIONS_INDEX, ITEM, REMOVALS_INDEX, type ReplicationTable } from './replication-table';
import { PRINCIPAL_GRACE_ENV } from '../functions/lib/principal-grace';
import {
  batchWorkflowDefinition,
  EXPRESS_BUDGET_SECONDS,
  EXPRESS_MAX_SECONDS,
  taskTimeoutFor,
  type WorkerFamily,
  workflowDefinition,
  worstCaseBatchItemSeconds,
} from './workflow-definition';

/**
 * Memory of the workers and the trigger. Both are I/O-bound (a few IoT or Step Functions calls),
 * and Lambda bills duration x memory: with EXPRESS the trigger is billed while it waits for its
 * batch, and worker duration is most of the cost per event (docs/workflow.md). A bundled worker
 * peaks at about 92 MB RSS after an invocation (Node 22, both regions' IoT clients, measured on
 * the zip), well inside 128 MB.
 */
export const REPLICATION_FUNCTION_MEMORY_MB = 128;

/** EXPRESS: the trigger waits for its batch executions (at most 300 s each, run side by side). */
export const TRIGGER_TIMEOUT_EXPRESS_SECONDS = EXPRESS_MAX_SECONDS + 30;

/** The trigger's Powertools Metrics namespace and service (its `service` dimension). */
export const TRIGGER_METRICS_NAMESPACE = 'IotDr';
export const TRIGGER_SERVICE_NAME = 'stream-trigger';

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
 * The second pattern lets an item WITHOUT a string `originRegion` through, so that the trigger
 * sends it to the DLQ with a reason instead of the filter dropping it silently (`anything-but`
 * never matches a missing field). It tests the leaf `originRegion.S`: in a stream record the
 * attribute is an object (`{"S": "us-east-1"}`), and `exists` matches leaf values only, so
 * `"originRegion": [{"exists": false}]` would match every INSERT, the secondary's own items
 * included (each then costing an invocation only to be skipped by code).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-ddb-filtering.html
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filtering-syntax
 */
export function streamFilterPatterns(targetRegion: string): string[] {
  return [
    JSON.stringify({
      eventName: ['INSERT'],
      dynamodb: { NewImage: { [ITEM.originRegion]: { S: [{ 'anything-but': [targetRegion] }] } } },
    }),
    JSON.stringify({
      eventName: ['INSERT'],
      dynamodb: { NewImage: { [ITEM.originRegion]: { S: [{ exists: false }] } } },
    }),
  ];
}

/**
 * The replication engine in the secondary region: the replica stream's event source mapping and
 * trigger function, the Step Functions workflow with its four worker functions (EXPRESS, the
 * default: an Express batch workflow started synchronously per stream batch, plus a Standard slow
 * lane for things waiting for their certificate; STANDARD: one Standard execution per event), the
 * failure table the workflow's Catch writes, and the encrypted DLQ of records that could not be
 * replicated, with alarms on every failure path. Region, provider and table come from the props.
 */
export class ReplicationWorkflow extends Construct {
  public readonly workers: Readonly<Record<WorkerFamily, NodejsFunction>>;
  public readonly trigger: NodejsFunction;
  /**
   * The workflow the trigger starts: with EXPRESS (default) the batch workflow (Express, one
   * synchronous execution per stream batch); with STANDARD the per-event workflow.
   */
  public readonly stateMachine: SfnStateMachine;
  public readonly stateMachineRole: IamRole;
  public readonly stateMachineLogGroup: CloudwatchLogGroup;
  /** Events the workflow could not apply (hash key `eventId`; see the contract in docs/workflow.md). */
  public readonly failureTable: DynamodbTable;
  /** Stream records that could not start a workflow: rejected by the trigger, or batches Lambda gave up on. */
  public readonly dlq: SqsQueue;
  public readonly eventSourceMapping: LambdaEventSourceMapping;
  public readonly dlqAlarm: CloudwatchMetricAlarm;
  /** `ExecutionsFailed` of the per-event Standard workflow (`stateMachine` with STANDARD, `slowLane` with EXPRESS). */
  public readonly failedExecutionsAlarm: CloudwatchMetricAlarm;
  /** EXPRESS: events of batch executions recorded in the failure table (the trigger's metric). */
  public readonly failedEventsAlarm?: CloudwatchMetricAlarm;
  /**
   * EXPRESS only: the per-event Standard workflow that waits for certificates, started by
   * `stateMachine` (the batch workflow) for the events that must wait.
   */
  public readonly slowLane?: SfnStateMachine;
  public readonly slowLaneLogGroup?: CloudwatchLogGroup;

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
          // ListThingsInThingGroup: a recreated group gets the primary's memberships back.
          // DescribeThing/DescribeThingType: a membership whose thing is missing in the secondary
          // creates the thing (and its type) from the primary (ensureThing).
          actions: [
            'iot:DescribeThingGroup',
            'iot:DescribeThing',
            'iot:DescribeThingType',
            'iot:ListThingGroupsForThing',
            'iot:ListThingsInThingGroup',
          ],
          resources: bothRegions('thinggroup', 'thing', 'thingtype'),
        },
        {
          sid: 'WriteTargetRegistry',
          actions: [
            'iot:CreateThingGroup',
            'iot:UpdateThingGroup',
            'iot:DeleteThingGroup',
            'iot:AddThingToThingGroup',
            'iot:RemoveThingFromThingGroup',
            // ensureThing: the member's registry entry (never its certificates) and its type
            'iot:CreateThing',
            'iot:UpdateThing',
            'iot:CreateThingType',
            'iot:DeprecateThingType',
            'iot:UpdateThingType',
            'iot:DeleteThingType',
          ],
          resources: targetOnly('thinggroup', 'thing', 'thingtype'),
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

    // The conflict rule's indexes per worker family (docs/replication.md, "Conflict rule"):
    // registry workers read deletes and registry changes, the shadow worker deletes and removals.
    const CONFLICT_INDEXES: Record<WorkerFamily, readonly string[]> = {
      thing: [DELETIONS_INDEX, CHANGES_INDEX],
      thingType: [DELETIONS_INDEX, CHANGES_INDEX],
      thingGroup: [DELETIONS_INDEX, CHANGES_INDEX],
      shadow: [DELETIONS_INDEX, REMOVALS_INDEX],
    };
    const workerEnvironment = {
      ORIGIN_REGION: originRegion,
      TARGET_REGION: targetRegion,
      // Two-way: both regions take changes, newest shadow field wins (docs/replication.md).
      CONFLICT_POLICY: replication.direction === 'two-way' ? 'merge' : 'mirror',
      // Its tombstones decide delete vs update (two-way; the same name in both regions).
      TABLE_NAME: props.table.table.name,
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
        statements: [
          ...workerStatements[family],
          // Every worker bundle holds the conflict rule's lookups (used under the merge policy
          // only): Query on the sparse indexes of this region's copy of the table its family reads.
          {
            sid: 'ReadTombstones',
            actions: ['dynamodb:Query'],
            resources: CONFLICT_INDEXES[family].map((index) => `${props.table.arnIn(target)}/index/${index}`),
          },
        ],
        timeoutSeconds: replication.workerTimeoutSeconds,
        memorySizeMb: REPLICATION_FUNCTION_MEMORY_MB,
        logRetentionDays: config.logRetentionDays,
      });
    this.workers = {
      thing: worker('thing'),
      thingType: worker('thingType'),
      thingGroup: worker('thingGroup'),
      shadow: worker('shadow'),
    };

    // --- State machines -----------------------------------------------------------------------
    // EXPRESS (default): `stateMachine` is the batch workflow (Express, one synchronous execution
    // per stream batch, a Map over its events) and `slowLane` the per-event Standard workflow that
    // waits for certificates, started by the batch workflow only for the events that must wait.
    // STANDARD: `stateMachine` is the per-event Standard workflow, started per record by the
    // trigger, and there is no slow lane. Arithmetic in docs/workflow.md.
    const express = replication.workflowType === 'EXPRESS';
    const machineName = name('replication');
    const slowLaneName = name('replication-slow-lane');
    const retry = {
      maxAttempts: replication.workflowRetryMaxAttempts,
      intervalSeconds: replication.workflowRetryIntervalSeconds,
      maxDelaySeconds: replication.workflowRetryMaxDelaySeconds,
    };
    const taskTimeoutSeconds = taskTimeoutFor(replication.workerTimeoutSeconds);
    if (express && worstCaseBatchItemSeconds(retry, taskTimeoutSeconds) > EXPRESS_BUDGET_SECONDS) {
      // The configuration rule (config/schema.ts) reports this with field, value and rule; a
      // construct built from an unchecked configuration must not synthesize a workflow that
      // cannot finish.
      throw new Error(
        `replication.workflowType "EXPRESS": the worst-case batch (${worstCaseBatchItemSeconds(retry, taskTimeoutSeconds)} s) exceeds ${EXPRESS_BUDGET_SECONDS} s; validate the configuration with parseConfig`,
      );
    }
    // The /aws/vendedlogs/ prefix keeps the CloudWatch Logs resource policy small when many
    // state machines log (AWS recommendation for vended logs).
    this.stateMachineLogGroup = new CloudwatchLogGroup(this, 'workflow-logs', {
      provider,
      name: `/aws/vendedlogs/states/${machineName}`,
      retentionInDays: config.logRetentionDays,
    });
    this.slowLaneLogGroup = express
      ? new CloudwatchLogGroup(this, 'slow-lane-logs', {
          provider,
          name: `/aws/vendedlogs/states/${slowLaneName}`,
          retentionInDays: config.logRetentionDays,
        })
      : undefined;
    // Only this direction's state machines (the workflow and, with EXPRESS, its slow lane, which
    // share the role), in the region they run in (the target's), of this account may use the role.
    // https://docs.aws.amazon.com/step-functions/latest/dg/cross-service-confused-deputy-prevention.html
    const machineArn = (n: string) => `arn:${arns.partition}:states:${targetRegion}:${arns.account}:stateMachine:${n}`;
    this.stateMachineRole = new IamRole(this, 'workflow-role', {
      provider,
      name: machineName,
      assumeRolePolicy: assumeRolePolicy('states.amazonaws.com', {
        account: arns.account,
        arns: express ? [machineArn(machineName), machineArn(slowLaneName)] : [machineArn(machineName)],
      }),
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
    const definitionProps = {
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
    };
    const logging = (group: CloudwatchLogGroup) => ({
      logDestination: `${group.arn}:*`,
      level: 'ERROR',
      // Events carry thing names, attributes and shadow state: keep them out of the logs.
      includeExecutionData: false,
    });

    this.slowLane =
      express && this.slowLaneLogGroup
        ? new SfnStateMachine(this, 'slow-lane', {
            provider,
            name: slowLaneName,
            // Standard: waits of 20 s for a certificate cost one transition each instead of
            // holding an Express execution (and its synchronous caller) for minutes; the name
            // (the event's) keeps a replayed batch from starting it twice.
            type: 'STANDARD',
            roleArn: this.stateMachineRole.arn,
            definition: JSON.stringify(workflowDefinition(definitionProps)),
            loggingConfiguration: logging(this.slowLaneLogGroup),
            dependsOn: [this.slowLaneLogGroup, machinePolicy],
          })
        : undefined;
    // Separate from the role's main policy: the slow lane depends on that one (Step Functions checks
    // the log-delivery permissions at creation), and this one names the slow lane.
    const startSlowLanePolicy = this.slowLane
      ? new IamRolePolicy(this, 'workflow-slow-lane-policy', {
          provider,
          name: 'start-slow-lane',
          role: this.stateMachineRole.name,
          policy: policyDocument([
            { sid: 'StartSlowLane', actions: ['states:StartExecution'], resources: [this.slowLane.arn] },
          ]),
        })
      : undefined;

    this.stateMachine = new SfnStateMachine(this, 'workflow', {
      provider,
      name: machineName,
      type: replication.workflowType,
      roleArn: this.stateMachineRole.arn,
      definition: JSON.stringify(
        this.slowLane
          ? batchWorkflowDefinition({ ...definitionProps, slowLaneArn: this.slowLane.arn })
          : workflowDefinition(definitionProps),
      ),
      loggingConfiguration: logging(this.stateMachineLogGroup),
      // Step Functions checks the role's log-delivery permissions when it creates the machine.
      dependsOn: [this.stateMachineLogGroup, machinePolicy, ...(startSlowLanePolicy ? [startSlowLanePolicy] : [])],
    });

    // --- Stream trigger ----------------------------------------------------------------------
    const streamArn = props.table.streamArnIn(target);
    this.trigger = new NodejsFunction(this, 'trigger', {
      provider,
      functionName: name('stream-trigger'),
      entry: 'stream-trigger',
      description: express
        ? 'iot-dr: runs each batch of replicated events as one synchronous Express execution'
        : 'iot-dr: starts one replication workflow execution per replicated event',
      environment: {
        STATE_MACHINE_ARN: this.stateMachine.arn,
        WORKFLOW_TYPE: replication.workflowType,
        DLQ_URL: this.dlq.url,
        // The region the trigger runs in: its own events are not replicated back.
        TARGET_REGION: targetRegion,
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
        express
          ? { sid: 'StartSyncExecutions', actions: ['states:StartSyncExecution'], resources: [this.stateMachine.arn] }
          : { sid: 'StartExecutions', actions: ['states:StartExecution'], resources: [this.stateMachine.arn] },
        // Rejected records (the function) and failed batches (the mapping's on-failure destination).
        { sid: 'RejectRecords', actions: ['sqs:SendMessage'], resources: [this.dlq.arn] },
      ],
      // EXPRESS: the trigger waits for its batch executions, which Step Functions stops at 300 s.
      timeoutSeconds: express ? TRIGGER_TIMEOUT_EXPRESS_SECONDS : 60,
      memorySizeMb: REPLICATION_FUNCTION_MEMORY_MB,
      logRetentionDays: config.logRetentionDays,
    });

    this.eventSourceMapping = new LambdaEventSourceMapping(this, 'stream-mapping', {
      provider,
      functionName: this.trigger.function.arn,
      eventSourceArn: streamArn,
      // TRIM_HORIZON: on first deployment (and if the mapping is ever replaced) the records already
      // in the stream (24 h) are processed too, so nothing captured before the mapping existed is
      // lost; replays are harmless: the workers write only differences (and, with STANDARD,
      // execution names deduplicate for 90 days).
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
    // Per-event executions (STANDARD's machine, EXPRESS's slow lane) fail after recording a failure.
    this.failedExecutionsAlarm = aboveZeroAlarm(this, 'failed-executions-alarm', {
      provider,
      alarmName: name('replication-failures'),
      alarmDescription: 'iot-dr: replication executions failed; see the failure table',
      namespace: 'AWS/States',
      metricName: 'ExecutionsFailed',
      dimensions: { StateMachineArn: (this.slowLane ?? this.stateMachine).arn },
      statistic: 'Sum',
    });
    // A batch execution succeeds even when some of its events were recorded as failures: the
    // trigger counts them (metric FailedEventsRecorded, Powertools dimension service).
    this.failedEventsAlarm = express
      ? aboveZeroAlarm(this, 'failed-events-alarm', {
          provider,
          alarmName: name('replication-failed-events'),
          alarmDescription: 'iot-dr: replicated events were recorded in the failure table; see it',
          namespace: TRIGGER_METRICS_NAMESPACE,
          metricName: 'FailedEventsRecorded',
          dimensions: { service: TRIGGER_SERVICE_NAME },
          statistic: 'Sum',
        })
      : undefined;
  }
}
