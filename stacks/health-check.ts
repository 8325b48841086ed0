/**
 * Health signals of both regions, and the Route 53 health check each region's failover record uses.
 *
 * - `canary` (default): in each region a scheduled function does MQTT round trips and publishes a
 *   CloudWatch metric; an alarm in the region turns it into a state (missing data = breaching); a
 *   Route 53 `CLOUDWATCH_METRIC` health check reads the alarm (insufficient data = unhealthy).
 *   Nothing is reachable from the internet and there is no secret.
 * - `api`: a REST API (resource policy: Route 53 health-checker address ranges only) in front of the
 *   round-trip function, guarded by a secret from SSM; a Route 53 HTTPS health check calls it.
 * - `both`: both of the above, combined by a calculated health check that is unhealthy only when
 *   both children are: the outside-in check alone cannot fail a region over.
 *
 * In every mode a CloudWatch alarm in us-east-1 (where Route 53 publishes its metrics) watches the
 * final health check.
 *
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-examples.html
 */
import { ApiGatewayDeployment } from '@cdktf/provider-aws/lib/api-gateway-deployment';
import { ApiGatewayIntegration } from '@cdktf/provider-aws/lib/api-gateway-integration';
import { ApiGatewayMethod } from '@cdktf/provider-aws/lib/api-gateway-method';
import { ApiGatewayMethodSettings } from '@cdktf/provider-aws/lib/api-gateway-method-settings';
import { ApiGatewayResource } from '@cdktf/provider-aws/lib/api-gateway-resource';
import { ApiGatewayRestApi } from '@cdktf/provider-aws/lib/api-gateway-rest-api';
import { ApiGatewayStage } from '@cdktf/provider-aws/lib/api-gateway-stage';
import type { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIotEndpoint } from '@cdktf/provider-aws/lib/data-aws-iot-endpoint';
import { DataAwsIpRanges } from '@cdktf/provider-aws/lib/data-aws-ip-ranges';
import { LambdaFunctionEventInvokeConfig } from '@cdktf/provider-aws/lib/lambda-function-event-invoke-config';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Route53HealthCheck } from '@cdktf/provider-aws/lib/route53-health-check';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { Password } from '@cdktf/provider-random/lib/password';
import type { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { Fn, TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import { CANARY_SCHEDULE, canaryAlarm, checksPerRun } from '../functions/lib/health/alarm';
import { resourceName } from './names';
import { lambdaSchedule } from './schedule';
import { NodejsFunction, type PolicyStatement } from './nodejs-function';

/** Route the API serves; Route 53 calls `GET /<stage>/health?key=<secret>`. */
export const HEALTH_ROUTE_PATH = '/health';
/** The REST API's one stage. */
export const HEALTH_STAGE_NAME = 'live';
/** The query-string parameter of the secret (functions/lib/health/guard.ts reads the same name). */
export const HEALTH_SECRET_QUERY = 'key';
/** Concurrent executions reserved for (and capping) the API-mode function. */
export const HEALTH_API_RESERVED_CONCURRENCY = 10;
/** Concurrent executions reserved for (and capping) the canary: one run a minute, two may overlap. */
export const HEALTH_CANARY_RESERVED_CONCURRENCY = 2;

/** Which of the pair a region is. */
export type RegionRole = 'primary' | 'secondary';

/** The health-check part of the configuration. */
export type HealthCheckSettings = IotDrConfig['healthCheck'];

interface RegionContext {
  readonly provider: AwsProvider;
  readonly globalProvider: AwsProvider;
  readonly region: string;
  readonly role: RegionRole;
  readonly namePrefix: string;
  readonly settings: HealthCheckSettings;
  readonly logRetentionDays: number;
  readonly iotEndpoint: DataAwsIotEndpoint;
  readonly account: string;
}

/** IAM statements of one MQTT round trip (client ids `<prefix>-hc-*`, topics `<prefix>/health/*`). */
function roundTripStatements(ctx: RegionContext): PolicyStatement[] {
  const arn = (resource: string) => `arn:aws:iot:${ctx.region}:${ctx.account}:${resource}`;
  return [
    { sid: 'MqttConnect', actions: ['iot:Connect'], resources: [arn(`client/${ctx.namePrefix}-hc-*`)] },
    {
      sid: 'MqttPublishReceive',
      actions: ['iot:Publish', 'iot:Receive'],
      resources: [arn(`topic/${ctx.namePrefix}/health/*`)],
    },
    { sid: 'MqttSubscribe', actions: ['iot:Subscribe'], resources: [arn(`topicfilter/${ctx.namePrefix}/health/*`)] },
  ];
}

function roundTripEnvironment(ctx: RegionContext): Record<string, string> {
  return {
    IOT_DR_HEALTH_ENDPOINT: ctx.iotEndpoint.endpointAddress,
    IOT_DR_NAME_PREFIX: ctx.namePrefix,
    IOT_DR_HEALTH_MESSAGE_COUNT: String(ctx.settings.messageCount),
    IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(ctx.settings.deadlineMilliseconds),
  };
}

/**
 * The canary of one region: scheduled function, its alarm (in the region), and the Route 53 check
 * reading that alarm.
 */
export class HealthCanary extends Construct {
  public readonly function: NodejsFunction;
  public readonly rule: CloudwatchEventRule;
  /** Runs that failed as a whole (timeout, crash): for diagnosis; the alarm already fires. */
  public readonly dlq: SqsQueue;
  /** OK / ALARM from the canary's datapoints; missing data is breaching. */
  public readonly alarm: CloudwatchMetricAlarm;
  /** `CLOUDWATCH_METRIC` check on {@link alarm}; insufficient data is unhealthy. */
  public readonly healthCheck: Route53HealthCheck;

  constructor(scope: Construct, id: string, ctx: RegionContext) {
    super(scope, id);
    const { provider, settings, namePrefix } = ctx;
    const name = resourceName(namePrefix, `health-canary-${ctx.role}`);
    const checks = checksPerRun(settings.intervalSeconds);

    this.dlq = new SqsQueue(this, 'dlq', {
      provider,
      name: resourceName(namePrefix, `health-canary-${ctx.role}-dlq`),
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 14 * 86400,
    });
    this.function = new NodejsFunction(this, 'function', {
      provider,
      functionName: name,
      entry: 'health-canary',
      description: `iot-dr: MQTT round trips through AWS IoT Core in ${ctx.region}, published to CloudWatch`,
      logRetentionDays: ctx.logRetentionDays,
      // Mostly waiting between checks: little memory keeps the per-minute run cheap.
      memorySizeMb: 256,
      // The last check starts (checks - 1) intervals in; it ends within its deadline, then publishes.
      timeoutSeconds: (checks - 1) * settings.intervalSeconds + Math.ceil(settings.deadlineMilliseconds / 1000) + 5,
      reservedConcurrentExecutions: HEALTH_CANARY_RESERVED_CONCURRENCY,
      sourceMaps: false,
      statements: [
        ...roundTripStatements(ctx),
        {
          // PutMetricData has no resource type; the condition pins the namespace.
          sid: 'Metrics',
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          conditions: { StringEquals: { 'cloudwatch:namespace': canaryAlarm(namePrefix, 1, 10).namespace } },
        },
        { sid: 'DeadLetters', actions: ['sqs:SendMessage'], resources: [this.dlq.arn] },
      ],
      environment: {
        ...roundTripEnvironment(ctx),
        IOT_DR_CANARY_INTERVAL_SECONDS: String(settings.intervalSeconds),
        IOT_DR_CANARY_CHECKS: String(checks),
      },
    });
    // A late or retried run would only publish stale datapoints: none of either. A run that fails
    // as a whole goes to the DLQ (its minute has no data, so the alarm has already fired).
    new LambdaFunctionEventInvokeConfig(this, 'invoke-config', {
      provider,
      functionName: this.function.function.functionName,
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 60,
      destinationConfig: { onFailure: { destination: this.dlq.arn } },
    });
    this.rule = lambdaSchedule(this, {
      provider,
      name,
      description: 'iot-dr: runs the health canary',
      scheduleExpression: CANARY_SCHEDULE,
      function: this.function,
    });

    const definition = canaryAlarm(namePrefix, settings.failureThreshold, settings.intervalSeconds);
    this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
      provider,
      alarmName: resourceName(namePrefix, `${ctx.role}-canary`),
      alarmDescription: `iot-dr: AWS IoT Core in ${ctx.region} (${ctx.role}) failed ${definition.threshold}+ MQTT round trips in a minute, or the canary published nothing`,
      ...definition,
    });
    this.healthCheck = new Route53HealthCheck(this, 'route53', {
      provider: ctx.globalProvider,
      type: 'CLOUDWATCH_METRIC',
      cloudwatchAlarmName: this.alarm.alarmName,
      cloudwatchAlarmRegion: ctx.region,
      // A new or silent alarm must not count as healthy.
      insufficientDataHealthStatus: 'Unhealthy',
      tags: { Name: `${name}` },
    });
  }
}

/**
 * The API-mode check of one region: secret, function, REST API open to the Route 53 health-checker
 * ranges only, and the Route 53 HTTPS check calling it.
 */
export class HealthApi extends Construct {
  public readonly parameter: SsmParameter;
  public readonly function: NodejsFunction;
  public readonly api: ApiGatewayRestApi;
  public readonly stage: ApiGatewayStage;
  /** Address ranges the resource policy admits (Route 53 health checkers in the checker regions). */
  public readonly checkerRanges: DataAwsIpRanges;
  /** `https://<api>.execute-api.<region>.amazonaws.com/<stage>/health`, without the secret. */
  public readonly url: string;
  public readonly healthCheck: Route53HealthCheck;

  constructor(scope: Construct, id: string, ctx: RegionContext & { readonly random: RandomProvider }) {
    super(scope, id);
    const { provider, region, namePrefix, settings, account } = ctx;
    const name = resourceName(namePrefix, `health-check-${ctx.role}`);

    // Letters and digits only: it travels in a URL query string without any encoding.
    const secret = new Password(this, 'secret', { provider: ctx.random, length: 40, special: false });
    this.parameter = new SsmParameter(this, 'secret-parameter', {
      provider,
      name: `/${namePrefix}/health-check/secret`,
      description: 'Secret Route 53 presents to the iot-dr health check (query parameter "key")',
      type: 'SecureString',
      keyId: 'alias/aws/ssm',
      value: secret.result,
    });

    this.function = new NodejsFunction(this, 'function', {
      provider,
      // IAM role names are global: the region's role is part of the name.
      functionName: name,
      entry: 'health-check',
      description: `MQTT round trip through AWS IoT Core in ${region} for Route 53`,
      logRetentionDays: ctx.logRetentionDays,
      // More memory is more CPU: a shorter cold start inside Route 53's 2-second budget.
      memorySizeMb: 512,
      timeoutSeconds: Math.ceil(settings.deadlineMilliseconds / 1000) + 2,
      reservedConcurrentExecutions: HEALTH_API_RESERVED_CONCURRENCY,
      // The first error of a container must not parse the source map inside the deadline.
      sourceMaps: false,
      statements: [
        ...roundTripStatements(ctx),
        // Unqualified parameter ARN: also covers `<name>:<version>` (the previous version).
        { sid: 'ReadSecret', actions: ['ssm:GetParameter'], resources: [this.parameter.arn] },
        {
          // The AWS managed key alias/aws/ssm has no ARN known before it exists; the conditions pin
          // the grant to decrypting this one parameter through SSM in this region.
          sid: 'DecryptSecret',
          actions: ['kms:Decrypt'],
          resources: [`arn:aws:kms:${region}:${account}:key/*`],
          conditions: {
            StringEquals: {
              'kms:ViaService': `ssm.${region}.amazonaws.com`,
              'kms:EncryptionContext:PARAMETER_ARN': this.parameter.arn,
            },
          },
        },
      ],
      environment: {
        ...roundTripEnvironment(ctx),
        IOT_DR_HEALTH_SECRET_PARAMETER: this.parameter.name,
        IOT_DR_HEALTH_SECRET_OVERLAP_SECONDS: String(settings.secretOverlapSeconds),
      },
    });

    // Route 53's health checkers send from published ranges (ip-ranges.json, ROUTE53_HEALTHCHECKS),
    // read at plan time; the resource policy admits nobody else, so anybody else's request is
    // refused by API Gateway and never reaches (or costs) the function.
    this.checkerRanges = new DataAwsIpRanges(this, 'checker-ranges', {
      provider,
      services: ['route53_healthchecks'],
      regions: [...settings.checkerRegions],
    });
    const sourceIps = Fn.concat([this.checkerRanges.cidrBlocks, this.checkerRanges.ipv6CidrBlocks]);
    this.api = new ApiGatewayRestApi(this, 'api', {
      provider,
      name,
      description: `iot-dr health check of ${region} for Route 53 (checker address ranges only)`,
      endpointConfiguration: { types: ['REGIONAL'] },
      policy: Fn.jsonencode({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'Route53HealthCheckersOnly',
            Effect: 'Allow',
            Principal: '*',
            Action: 'execute-api:Invoke',
            Resource: `execute-api:/${HEALTH_STAGE_NAME}/GET${HEALTH_ROUTE_PATH}`,
            Condition: { IpAddress: { 'aws:SourceIp': sourceIps } },
          },
          {
            Sid: 'DenyEveryoneElse',
            Effect: 'Deny',
            Principal: '*',
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { NotIpAddress: { 'aws:SourceIp': sourceIps } },
          },
        ],
      }),
    });
    const resource = new ApiGatewayResource(this, 'resource', {
      provider,
      restApiId: this.api.id,
      parentId: this.api.rootResourceId,
      pathPart: HEALTH_ROUTE_PATH.slice(1),
    });
    const method = new ApiGatewayMethod(this, 'method', {
      provider,
      restApiId: this.api.id,
      resourceId: resource.id,
      httpMethod: 'GET',
      // Route 53 can send no credentials: the resource policy and the key are the guard.
      authorization: 'NONE',
    });
    const integration = new ApiGatewayIntegration(this, 'integration', {
      provider,
      restApiId: this.api.id,
      resourceId: resource.id,
      httpMethod: method.httpMethod,
      type: 'AWS_PROXY',
      integrationHttpMethod: 'POST',
      uri: this.function.function.invokeArn,
      timeoutMilliseconds: 5000,
    });
    const deployment = new ApiGatewayDeployment(this, 'deployment', {
      provider,
      restApiId: this.api.id,
      // A policy or route change needs a new deployment to take effect.
      triggers: { redeployment: Fn.sha1(Fn.jsonencode([this.api.policy, resource.id, method.id, integration.id])) },
      lifecycle: { createBeforeDestroy: true },
      dependsOn: [method, integration],
    });
    this.stage = new ApiGatewayStage(this, 'stage', {
      provider,
      restApiId: this.api.id,
      deploymentId: deployment.id,
      stageName: HEALTH_STAGE_NAME,
    });
    if (settings.apiRateLimitPerSecond !== undefined && settings.apiBurstLimit !== undefined) {
      new ApiGatewayMethodSettings(this, 'throttling', {
        provider,
        restApiId: this.api.id,
        stageName: this.stage.stageName,
        methodPath: '*/*',
        settings: {
          throttlingRateLimit: settings.apiRateLimitPerSecond,
          throttlingBurstLimit: settings.apiBurstLimit,
        },
      });
    }
    new LambdaPermission(this, 'invoke', {
      provider,
      statementId: 'AllowHealthCheckApi',
      action: 'lambda:InvokeFunction',
      functionName: this.function.function.functionName,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `${this.api.executionArn}/${HEALTH_STAGE_NAME}/GET${HEALTH_ROUTE_PATH}`,
    });
    this.url = `${this.stage.invokeUrl}${HEALTH_ROUTE_PATH}`;

    this.healthCheck = new Route53HealthCheck(this, 'route53', {
      provider: ctx.globalProvider,
      type: 'HTTPS',
      fqdn: `${this.api.id}.execute-api.${region}.amazonaws.com`,
      port: 443,
      // Route 53 can only send what is in the path: the secret has to be here (and so in state).
      resourcePath: `/${HEALTH_STAGE_NAME}${HEALTH_ROUTE_PATH}?${HEALTH_SECRET_QUERY}=${secret.result}`,
      requestInterval: settings.intervalSeconds,
      failureThreshold: settings.failureThreshold,
      enableSni: true,
      regions: [...settings.checkerRegions],
      tags: { Name: name },
    });
  }
}

export interface RegionHealthCheckProps {
  /** The region's provider: functions, alarm, API, secret and IoT endpoint live there. */
  readonly provider: AwsProvider;
  /** A provider in us-east-1: Route 53 health checks are global and their metrics live there. */
  readonly globalProvider: AwsProvider;
  /** Generates the API mode's secret. @default - none: required in `api` and `both` modes */
  readonly random?: RandomProvider;
  readonly region: string;
  readonly role: RegionRole;
  readonly namePrefix: string;
  readonly settings: HealthCheckSettings;
  readonly logRetentionDays: number;
}

/** The health signal of one region and the Route 53 health check its failover record uses. */
export class RegionHealthCheck extends Construct {
  /** The region's `iot:Data-ATS` endpoint host, resolved at deploy time. */
  public readonly iotEndpoint: DataAwsIotEndpoint;
  /** Present in `canary` and `both` modes. */
  public readonly canary?: HealthCanary;
  /** Present in `api` and `both` modes. */
  public readonly api?: HealthApi;
  /** The check the failover record uses (canary, API, or the calculated combination of both). */
  public readonly healthCheck: Route53HealthCheck;
  /** `HealthCheckStatus` of {@link healthCheck}, in us-east-1. */
  public readonly alarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: RegionHealthCheckProps) {
    super(scope, id);
    const { provider, settings } = props;
    this.iotEndpoint = new DataAwsIotEndpoint(this, 'iot-endpoint', { provider, endpointType: 'iot:Data-ATS' });
    const ctx: RegionContext = {
      ...props,
      iotEndpoint: this.iotEndpoint,
      account: new DataAwsCallerIdentity(this, 'account', { provider }).accountId,
    };
    if (settings.mode !== 'api') this.canary = new HealthCanary(this, 'canary', ctx);
    if (settings.mode !== 'canary') {
      if (!props.random) throw new Error(`healthCheck.mode "${settings.mode}" needs a random provider for its secret`);
      this.api = new HealthApi(this, 'api', { ...ctx, random: props.random });
    }

    if (this.canary && this.api) {
      // Unhealthy only when both children are: a flood or a broken API cannot fail the region over
      // while the in-region canary still succeeds, nor can a canary hiccup while the API succeeds.
      this.healthCheck = new Route53HealthCheck(this, 'route53', {
        provider: props.globalProvider,
        type: 'CALCULATED',
        childHealthchecks: [this.canary.healthCheck.id, this.api.healthCheck.id],
        childHealthThreshold: 1,
        tags: { Name: resourceName(props.namePrefix, `health-${props.role}`) },
      });
    } else {
      this.healthCheck = (this.canary ?? this.api)?.healthCheck as Route53HealthCheck;
    }

    this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
      provider: props.globalProvider,
      alarmName: resourceName(props.namePrefix, `${props.role}-unhealthy`),
      alarmDescription: `AWS IoT Core in ${props.region} (${props.role}) is unhealthy for Route 53 (${settings.mode} health signal)`,
      namespace: 'AWS/Route53',
      metricName: 'HealthCheckStatus',
      dimensions: { HealthCheckId: this.healthCheck.id },
      statistic: 'Minimum',
      period: 60,
      evaluationPeriods: 1,
      threshold: 1,
      comparisonOperator: 'LessThanThreshold',
      // No data from Route 53 means nobody is checking: treat it as unhealthy.
      treatMissingData: 'breaching',
    });
  }
}

export interface HealthChecksProps {
  readonly primary: AwsProvider;
  readonly secondary: AwsProvider;
  /** A provider in us-east-1 (the primary or secondary one when either is there). */
  readonly globalProvider: AwsProvider;
  /** Generates the API mode's secret. @default - none: required in `api` and `both` modes */
  readonly random?: RandomProvider;
  readonly config: IotDrConfig;
}

/** Both regions' health signals and the outputs (never a secret). */
export class HealthChecks extends Construct {
  public readonly primary: RegionHealthCheck;
  public readonly secondary: RegionHealthCheck;

  constructor(scope: Construct, id: string, props: HealthChecksProps) {
    super(scope, id);
    const { config } = props;
    const common = {
      globalProvider: props.globalProvider,
      random: props.random,
      namePrefix: config.namePrefix,
      settings: config.healthCheck,
      logRetentionDays: config.logRetentionDays,
    };
    this.primary = new RegionHealthCheck(this, 'primary', {
      ...common,
      provider: props.primary,
      region: config.primaryRegion,
      role: 'primary',
    });
    this.secondary = new RegionHealthCheck(this, 'secondary', {
      ...common,
      provider: props.secondary,
      region: config.secondaryRegion,
      role: 'secondary',
    });

    for (const [role, check] of [
      ['primary', this.primary],
      ['secondary', this.secondary],
    ] as const) {
      new TerraformOutput(this, `${role}-health-check-id`, { value: check.healthCheck.id }).overrideLogicalId(
        `health_check_${role}_id`,
      );
      if (check.canary) {
        new TerraformOutput(this, `${role}-canary-alarm`, {
          value: check.canary.alarm.alarmName,
          description: `CloudWatch alarm (in the ${role} region) that Route 53 reads`,
        }).overrideLogicalId(`health_check_${role}_canary_alarm`);
      }
      if (check.api) {
        new TerraformOutput(this, `${role}-api-url`, {
          value: check.api.url,
          description: `Health-check URL in the ${role} region; append ?key=<value of the SSM parameter> to call it (only from the Route 53 checker ranges)`,
        }).overrideLogicalId(`health_check_${role}_url`);
        new TerraformOutput(this, `${role}-secret-parameter`, { value: check.api.parameter.name }).overrideLogicalId(
          `health_check_${role}_secret_parameter`,
        );
      }
    }
  }
}
