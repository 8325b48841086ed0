import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import {
  CloudwatchEventTarget,
  type CloudwatchEventTargetRetryPolicy,
} from '@cdktf/provider-aws/lib/cloudwatch-event-target';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import type { Construct } from 'constructs';
import type { NodejsFunction } from './nodejs-function';

export interface LambdaScheduleProps {
  readonly provider: AwsProvider;
  /** The rule's name. */
  readonly name: string;
  readonly description: string;
  /** EventBridge `rate(...)` or `cron(...)` expression. */
  readonly scheduleExpression: string;
  /** @default - the rule's default state (enabled) */
  readonly state?: 'ENABLED' | 'DISABLED';
  readonly function: NodejsFunction;
  /** @default - EventBridge's default retry policy */
  readonly retryPolicy?: CloudwatchEventTargetRetryPolicy;
}

/**
 * An EventBridge schedule that invokes `function`: the rule, its target and the permission that
 * lets only this rule invoke the function. The children's ids (`schedule`, `target`, `permission`)
 * are created directly in `scope`: they are part of the resource addresses.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
 */
export function lambdaSchedule(scope: Construct, props: LambdaScheduleProps): CloudwatchEventRule {
  const { provider } = props;
  const rule = new CloudwatchEventRule(scope, 'schedule', {
    provider,
    name: props.name,
    description: props.description,
    scheduleExpression: props.scheduleExpression,
    ...(props.state ? { state: props.state } : {}),
  });
  new CloudwatchEventTarget(scope, 'target', {
    provider,
    rule: rule.name,
    arn: props.function.function.arn,
    ...(props.retryPolicy ? { retryPolicy: props.retryPolicy } : {}),
  });
  new LambdaPermission(scope, 'permission', {
    provider,
    statementId: 'AllowEventBridgeSchedule',
    action: 'lambda:InvokeFunction',
    functionName: props.function.function.functionName,
    principal: 'events.amazonaws.com',
    sourceArn: rule.arn,
  });
  return rule;
}
