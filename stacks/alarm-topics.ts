import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription';
import { Annotations, Fn } from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import { type IotDrConfig, snsTopicRegion } from '../config/schema';
import { resourceName } from './names';

/** CloudWatch accepts at most 5 actions per alarm state. */
export const MAX_ALARM_ACTIONS = 5;

export interface AlarmNotificationsProps {
  readonly config: IotDrConfig;
  /** Every AWS provider of the stack with its region (primary, secondary, and us-east-1 when separate). */
  readonly providers: ReadonlyArray<{ readonly provider: AwsProvider; readonly region: string }>;
}

/**
 * Where every alarm of the stack goes: ALARM and OK notify, in the alarm's own region (CloudWatch
 * only publishes to topics in the alarm's region), the topic iot-dr creates there when
 * `alarms.email` is set, plus the existing topics of `alarms.topicArns` in that region.
 *
 * Call {@link attach} once every alarm exists: it visits all `aws_cloudwatch_metric_alarm`s of
 * the scope, so an alarm added later cannot be forgotten. Created topics are encrypted with a
 * customer managed key: CloudWatch cannot publish to a topic encrypted with the AWS managed key
 * alias/aws/sns, whose policy cannot grant it kms:GenerateDataKey* (the alarm would fire and the
 * e-mail would never arrive).
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
export class AlarmNotifications extends Construct {
  /** Topics created by iot-dr, by region. */
  public readonly topics = new Map<string, SnsTopic>();
  private readonly config: IotDrConfig;
  private readonly providers: AlarmNotificationsProps['providers'];
  private identity?: { account: string; partition: string };

  constructor(scope: Construct, id: string, props: AlarmNotificationsProps) {
    super(scope, id);
    this.config = props.config;
    this.providers = props.providers;
  }

  /** Sets `alarm_actions` and `ok_actions` of every metric alarm under `scope`. */
  public attach(scope: IConstruct): void {
    const alarms = scope.node.findAll().filter((c): c is CloudwatchMetricAlarm => c instanceof CloudwatchMetricAlarm);
    const { email, topicArns } = this.config.alarms;
    if (!email && topicArns.length === 0 && alarms.length > 0) {
      Annotations.of(scope).addWarning(
        `${alarms.length} alarms notify nobody: set alarms.email or alarms.topicArns to be told when replication or a health check fails`,
      );
      return;
    }
    for (const alarm of alarms) {
      const region = this.regionOf(alarm);
      const actions = [
        ...(email ? [this.topicIn(region).arn] : []),
        ...topicArns.filter((arn) => snsTopicRegion(arn) === region),
      ];
      if (actions.length === 0) continue; // the schema rejects a region without a topic
      if (actions.length > MAX_ALARM_ACTIONS) {
        throw new Error(`alarm ${alarm.node.path}: ${actions.length} actions, CloudWatch allows ${MAX_ALARM_ACTIONS}`);
      }
      alarm.alarmActions = actions;
      alarm.okActions = actions;
    }
  }

  private regionOf(alarm: CloudwatchMetricAlarm): string {
    const entry = this.providers.find((p) => p.provider === alarm.provider);
    if (!entry) throw new Error(`alarm ${alarm.node.path} has no provider of this stack (every resource names one)`);
    return entry.region;
  }

  private accountAndPartition(): { account: string; partition: string } {
    if (!this.identity) {
      // One account for the whole stack; read through the first provider.
      const provider = this.providers[0].provider;
      this.identity = {
        account: new DataAwsCallerIdentity(this, 'account', { provider }).accountId,
        partition: new DataAwsPartition(this, 'partition', { provider }).partition,
      };
    }
    return this.identity;
  }

  /** The topic iot-dr creates in `region` (with its key and e-mail subscription), made once. */
  private topicIn(region: string): SnsTopic {
    const existing = this.topics.get(region);
    if (existing) return existing;
    const provider = this.providers.find((p) => p.region === region)?.provider as AwsProvider;
    const prefix = this.config.namePrefix;
    const { account, partition } = this.accountAndPartition();
    const key = new KmsKey(this, `${region}-key`, {
      provider,
      description: `${prefix}: encrypts the alarm topic in ${region}`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AccountAdministersTheKey',
            Effect: 'Allow',
            Principal: { AWS: `arn:${partition}:iam::${account}:root` },
            Action: [
              'kms:Create*',
              'kms:Describe*',
              'kms:Enable*',
              'kms:List*',
              'kms:Put*',
              'kms:Update*',
              'kms:Revoke*',
              'kms:Disable*',
              'kms:Get*',
              'kms:Delete*',
              'kms:TagResource',
              'kms:UntagResource',
              'kms:ScheduleKeyDeletion',
              'kms:CancelKeyDeletion',
              'kms:RotateKeyOnDemand',
              'kms:Encrypt',
              'kms:Decrypt',
              'kms:GenerateDataKey*',
              'kms:ReEncrypt*',
            ],
            // In a key policy "*" means this key.
            Resource: '*',
          },
          {
            Sid: 'CloudWatchAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Resource: '*',
            Condition: {
              StringEquals: { 'aws:SourceAccount': account },
              ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:${prefix}-*` },
            },
          },
        ],
      }),
    });
    const topic = new SnsTopic(this, `${region}-topic`, {
      provider,
      name: resourceName(prefix, 'alarms'),
      displayName: `${prefix} alarms (${region})`,
      kmsMasterKeyId: key.arn,
    });
    new SnsTopicSubscription(this, `${region}-email`, {
      provider,
      topicArn: topic.arn,
      protocol: 'email',
      endpoint: this.config.alarms.email as string,
    });
    this.topics.set(region, topic);
    return topic;
  }
}
