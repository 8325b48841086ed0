import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import type { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import type { Construct } from 'constructs';

export interface AboveZeroAlarmProps {
  readonly provider: AwsProvider;
  readonly alarmName: string;
  readonly alarmDescription: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly statistic: 'Maximum' | 'Sum';
}

/**
 * An alarm for things that should never happen (a failed execution, a dead letter): in alarm as
 * soon as one 5-minute period is above 0; no data (nothing happened) is not breaching.
 */
export function aboveZeroAlarm(scope: Construct, id: string, props: AboveZeroAlarmProps): CloudwatchMetricAlarm {
  return new CloudwatchMetricAlarm(scope, id, {
    ...props,
    period: 300,
    evaluationPeriods: 1,
    threshold: 0,
    comparisonOperator: 'GreaterThanThreshold',
    treatMissingData: 'notBreaching',
  });
}

/** {@link aboveZeroAlarm} on the messages waiting in `queue` (a DLQ or an error queue). */
export function queueNotEmptyAlarm(
  scope: Construct,
  id: string,
  props: { provider: AwsProvider; alarmName: string; alarmDescription: string; queue: SqsQueue },
): CloudwatchMetricAlarm {
  const { queue, ...rest } = props;
  return aboveZeroAlarm(scope, id, {
    ...rest,
    namespace: 'AWS/SQS',
    metricName: 'ApproximateNumberOfMessagesVisible',
    dimensions: { QueueName: queue.name },
    statistic: 'Maximum',
  });
}
