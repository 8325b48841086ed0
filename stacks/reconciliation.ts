import type { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import type { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import type { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import { LambdaFunctionEventInvokeConfig } from '@cdktf/provider-aws/lib/lambda-function-event-invoke-config';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import { queueNotEmptyAlarm } from './alarms';
import { iotArns as iotArnsIn } from './arns';
import { PRINCIPAL_READ_ACTIONS, PRINCIPAL_WRITE_ACTIONS } from './iot-permissions';
import { type ReplicationTarget, replicationResourceName } from './names';
import { NodejsFunction, type PolicyStatement } from './nodejs-function';
import { CHANGES_INDEX, DELETIONS_INDEX, REMOVALS_INDEX, type ReplicationTable } from './replication-table';
import { lambdaSchedule } from './schedule';

export interface ReconciliationProps {
  /** The provider of the region this job repairs (its target): everything here lives there. */
  readonly provider: AwsProvider;
  /**
   * The region it repairs, as for `ReplicationWorkflow`: `secondary` (both modes) reads the
   * primary and writes the secondary; `primary` (two-way replication) reads the secondary and
   * writes the primary. One construct, instantiated per direction: only regions, names, the
   * failure table and IAM scopes differ.
   * @default 'secondary'
   */
  readonly target?: ReplicationTarget;
  readonly config: IotDrConfig;
  /**
   * The failure table of the replication workflow of the same direction (in the same region),
   * whose entries the job re-applies and deletes.
   * @default - none: only drift is repaired
   */
  readonly failureTable?: DynamodbTable;
  /**
   * The replication table. Two-way (`merge`): the repair looks up its tombstones in this region's
   * copy (delete vs update), as the workers do, so it never re-creates a shadow its region deleted
   * after the origin's last write.
   * @default - none: no tombstone lookups
   */
  readonly table?: ReplicationTable;
  /** @default 900 (Lambda's maximum: a run checks `thingsPerRun` things in both regions) */
  readonly timeoutSeconds?: number;
}

/**
 * The scheduled drift repair of one direction: a function in the target region on an EventBridge
 * schedule that checks a slice of the fleet per run (cursor in an SSM parameter), repairs drift
 * from the origin into its own region through the replication library, and re-applies the
 * failures that direction's workflow recorded. Two-way replication deploys it twice (one per
 * direction); the instances share the read quota (`reconciliationSizing`).
 */
export class Reconciliation extends Construct {
  public readonly function: NodejsFunction;
  public readonly rule: CloudwatchEventRule;
  /** Where the last run stopped (JSON, written by the function). */
  public readonly cursor: SsmParameter;
  /** Invocations that failed (asynchronous invocation, no retry: the next run retries anyway). */
  public readonly dlq: SqsQueue;
  /** A run failed (its invocation is in the DLQ): drift and recorded failures stay unrepaired. */
  public readonly dlqAlarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: ReconciliationProps) {
    super(scope, id);
    const { config } = props;
    const twoWay = config.replication.direction === 'two-way';
    const table = props.table;
    const provider = props.provider;
    const target = props.target ?? 'secondary';
    const targetRegion = target === 'secondary' ? config.secondaryRegion : config.primaryRegion;
    const originRegion = target === 'secondary' ? config.primaryRegion : config.secondaryRegion;
    const named = (purpose: string) => replicationResourceName(config.namePrefix, purpose, target);
    const name = named('reconcile');

    const iotArns = iotArnsIn(this, provider);
    const both = [config.primaryRegion, config.secondaryRegion];
    const targetOnly = [targetRegion];

    this.cursor = new SsmParameter(this, 'cursor', {
      provider,
      name: `/${config.namePrefix}/reconciliation/cursor${target === 'secondary' ? '' : '-to-primary'}`,
      description: 'iot-dr reconciliation: where the last run stopped (ListThings tokens)',
      type: 'SecureString',
      value: '{}',
      // The function owns the value after creation.
      lifecycle: { ignoreChanges: ['value'] },
    });

    this.dlq = new SqsQueue(this, 'dlq', {
      provider,
      name: named('reconcile-dlq'),
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 14 * 86400,
    });

    const statements: PolicyStatement[] = [
      {
        // Listing is account-wide: these actions have no resource type in IAM.
        sid: 'IotRegistryList',
        // Provisioning readiness (both modes): CA certificates, provisioning templates and claim
        // certificates are listed whole each run; RegisterCACertificate and
        // RegisterCertificateWithoutCA create resources that have no ARN yet.
        actions: [
          'iot:ListThings',
          'iot:ListThingTypes',
          'iot:ListThingGroups',
          'iot:ListCertificates',
          'iot:RegisterCertificateWithoutCA',
          'iot:ListPolicies',
          'iot:ListCACertificates',
          'iot:RegisterCACertificate',
          'iot:ListProvisioningTemplates',
        ],
        resources: ['*'],
      },
      {
        sid: 'ReadBothRegions',
        actions: [
          'iot:DescribeThing',
          'iot:ListThingPrincipals',
          'iot:ListThingGroupsForThing',
          'iot:GetThingShadow',
          'iot:ListNamedShadowsForThing',
          'iot:DescribeThingType',
          'iot:DescribeThingGroup',
          'iot:ListThingsInThingGroup',
          ...PRINCIPAL_READ_ACTIONS,
          'iot:DescribeCACertificate',
          'iot:DescribeProvisioningTemplate',
          'iot:ListProvisioningTemplateVersions',
        ],
        // Certificates and policies in both modes: claim certificates and their policies.
        resources: iotArns(
          both,
          'thing',
          'thingtype',
          'thinggroup',
          'cert',
          'policy',
          'cacert',
          'provisioningtemplate',
        ),
      },
      {
        sid: 'RepairTarget',
        actions: [
          'iot:CreateThing',
          'iot:UpdateThing',
          'iot:DeleteThing',
          'iot:AttachThingPrincipal',
          'iot:DetachThingPrincipal',
          'iot:UpdateThingShadow',
          'iot:DeleteThingShadow',
          'iot:CreateThingType',
          'iot:UpdateThingType',
          'iot:DeprecateThingType',
          'iot:DeleteThingType',
          'iot:CreateThingGroup',
          'iot:UpdateThingGroup',
          'iot:DeleteThingGroup',
          'iot:AddThingToThingGroup',
          'iot:RemoveThingFromThingGroup',
          ...PRINCIPAL_WRITE_ACTIONS,
          'iot:UpdateCACertificate',
          'iot:DeleteCACertificate',
          'iot:CreateProvisioningTemplate',
          'iot:UpdateProvisioningTemplate',
          'iot:DeleteProvisioningTemplate',
          'iot:CreateProvisioningTemplateVersion',
          'iot:DeleteProvisioningTemplateVersion',
        ],
        resources: iotArns(
          targetOnly,
          'thing',
          'thingtype',
          'thinggroup',
          'cert',
          'policy',
          'cacert',
          'provisioningtemplate',
        ),
      },
      {
        // CreateProvisioningTemplate/UpdateProvisioningTemplate pass the template's provisioning
        // role, and RegisterCACertificate/UpdateCACertificate the JITP registration role, to AWS
        // IoT: iam:PassRole on the customer's roles (names unknown at synth), only to IoT.
        // https://docs.aws.amazon.com/iot/latest/developerguide/provision-template.html
        sid: 'PassProvisioningRoles',
        actions: ['iam:PassRole'],
        resources: [iotArns.iamRoles()],
        conditions: { StringEquals: { 'iam:PassedToService': 'iot.amazonaws.com' } },
      },
      // The SecureString uses the AWS managed key aws/ssm, whose key policy lets principals of the
      // account use it through SSM: no KMS statement is needed.
      { sid: 'Cursor', actions: ['ssm:GetParameter', 'ssm:PutParameter'], resources: [this.cursor.arn] },
      { sid: 'DeadLetters', actions: ['sqs:SendMessage'], resources: [this.dlq.arn] },
      ...(twoWay && table
        ? [
            {
              // The conflict rule's bookkeeping (docs/replication.md): tombstones, registry changes, shadow removals.
              sid: 'ReadTombstones',
              actions: ['dynamodb:Query'],
              resources: [DELETIONS_INDEX, CHANGES_INDEX, REMOVALS_INDEX].map((index) => `${table.arnIn(target)}/index/${index}`),
            },
          ]
        : []),
      ...(props.failureTable
        ? [
            {
              sid: 'RecordedFailures',
              actions: ['dynamodb:Scan', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
              resources: [props.failureTable.arn],
            },
          ]
        : []),
    ];

    this.function = new NodejsFunction(this, 'function', {
      provider,
      functionName: name,
      entry: 'reconcile',
      description: `iot-dr: repairs drift from ${originRegion} into ${targetRegion} on a schedule`,
      environment: {
        // The region read and the region written (this one), as the workers get them.
        ORIGIN_REGION: originRegion,
        TARGET_REGION: targetRegion,
        REPLICATION_MODE: config.replication.mode,
        CONFLICT_POLICY: twoWay ? 'merge' : 'mirror',
        THINGS_PER_RUN: String(config.reconciliation.thingsPerRun),
        // Two-way: two instances (one per direction) read the same quota: each gets half the share.
        ...reconciliationSizing(config.reconciliation, props.timeoutSeconds ?? 900, twoWay ? 2 : 1),
        CURSOR_PARAMETER: this.cursor.name,
        FAILURE_TABLE: props.failureTable?.name ?? '',
        // Two-way: the tombstones (the same name in both regions; the copy of this region is read).
        ...(twoWay && props.table ? { TABLE_NAME: props.table.table.name } : {}),
        POWERTOOLS_METRICS_NAMESPACE: 'IotDr',
      },
      statements,
      timeoutSeconds: props.timeoutSeconds ?? 900,
      memorySizeMb: 512,
      // One run at a time: two runs would share (and fight over) the cursor.
      reservedConcurrentExecutions: 1,
      logRetentionDays: config.logRetentionDays,
    });

    // Asynchronous invocation: no retry (the next scheduled run starts where this one stopped),
    // failed invocations recorded in the DLQ.
    new LambdaFunctionEventInvokeConfig(this, 'invoke-config', {
      provider,
      functionName: this.function.function.functionName,
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 3600,
      destinationConfig: { onFailure: { destination: this.dlq.arn } },
    });
    this.dlqAlarm = queueNotEmptyAlarm(this, 'dlq-alarm', {
      provider,
      alarmName: named('reconcile-failed'),
      alarmDescription: `iot-dr: a reconciliation run (${originRegion} -> ${targetRegion}) failed; see the DLQ message and the function log`,
      queue: this.dlq,
    });

    this.rule = lambdaSchedule(this, {
      provider,
      name,
      description: 'iot-dr: runs the reconciliation function',
      scheduleExpression: config.reconciliation.schedule,
      state: config.reconciliation.enabled ? 'ENABLED' : 'DISABLED',
      function: this.function,
      retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 3600 },
    });
  }
}

/** Seconds between runs of a `rate(...)` schedule; a `cron(...)` schedule is taken as hourly. */
export function scheduleIntervalSeconds(schedule: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
  if (!m) return 3600;
  const unit = m[2].startsWith('minute') ? 60 : m[2].startsWith('hour') ? 3600 : 86400;
  return Number(m[1]) * unit;
}

/**
 * The sizing environment of the function (see `planRun` in functions/lib/fleet/reconcile.ts):
 * a run may check things for min(interval, timeout) - 60 s (the rest is for the registry and the
 * recorded failures), at quotaSharePercent of readQuotaTps things per second, split evenly between
 * the `instances` that check the same fleet (two-way replication: one per direction; each check
 * reads the thing in both regions, so both instances draw on both regions' quota).
 */
export function reconciliationSizing(
  r: { schedule: string; fullPassHours: number; quotaSharePercent: number; readQuotaTps: number },
  timeoutSeconds: number,
  instances = 1,
): Record<string, string> {
  const interval = scheduleIntervalSeconds(r.schedule);
  return {
    FULL_PASS_HOURS: String(r.fullPassHours),
    RUN_INTERVAL_SECONDS: String(interval),
    RUN_BUDGET_SECONDS: String(Math.max(30, Math.min(interval, timeoutSeconds) - 60)),
    MAX_THINGS_PER_SECOND: String((r.quotaSharePercent / 100) * r.readQuotaTps / instances),
  };
}
