/**
 * Health checks of both regions: in each, an HTTP API in front of the MQTT round-trip function
 * (guarded by a generated secret kept in SSM), a Route 53 HTTPS health check on it, and a
 * CloudWatch alarm on that check (in us-east-1, where Route 53 publishes its metrics), with an
 * optional e-mail topic.
 *
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-check-status.html
 */
import { Apigatewayv2Api } from '@cdktf/provider-aws/lib/apigatewayv2-api';
import { Apigatewayv2Integration } from '@cdktf/provider-aws/lib/apigatewayv2-integration';
import { Apigatewayv2Route } from '@cdktf/provider-aws/lib/apigatewayv2-route';
import { Apigatewayv2Stage } from '@cdktf/provider-aws/lib/apigatewayv2-stage';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsIotEndpoint } from '@cdktf/provider-aws/lib/data-aws-iot-endpoint';
import { LambdaPermission } from '@cdktf/provider-aws/lib/lambda-permission';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Route53HealthCheck } from '@cdktf/provider-aws/lib/route53-health-check';
import { SsmParameter } from '@cdktf/provider-aws/lib/ssm-parameter';
import { Password } from '@cdktf/provider-random/lib/password';
import type { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { TerraformOutput } from 'cdktf';
import { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import { resourceName } from './names';
import { NodejsFunction, type PolicyStatement } from './nodejs-function';

/** Route the API serves; Route 53 calls `GET /health?key=<secret>`. */
export const HEALTH_ROUTE_PATH = '/health';
/** The query-string parameter of the secret (functions/lib/health/guard.ts reads the same name). */
export const HEALTH_SECRET_QUERY = 'key';

/** Which of the pair a region is. */
export type RegionRole = 'primary' | 'secondary';

/** The health-check part of the configuration. */
export type HealthCheckSettings = IotDrConfig['healthCheck'];

export interface RegionHealthCheckProps {
  /** The region's provider: function, API, secret and IoT endpoint live there. */
  readonly provider: AwsProvider;
  /** A provider in us-east-1: Route 53 health checks are global and their metrics live there. */
  readonly globalProvider: AwsProvider;
  readonly random: RandomProvider;
  readonly region: string;
  readonly role: RegionRole;
  readonly namePrefix: string;
  readonly settings: HealthCheckSettings;
  readonly logRetentionDays: number;
}

/**
 * The health check of one region: secret, function, HTTP API, Route 53 health check and alarm.
 */
export class RegionHealthCheck extends Construct {
  /** The region's `iot:Data-ATS` endpoint host, resolved at deploy time. */
  public readonly iotEndpoint: DataAwsIotEndpoint;
  public readonly parameter: SsmParameter;
  public readonly function: NodejsFunction;
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  /** `https://<api>.execute-api.<region>.amazonaws.com/health`, without the secret. */
  public readonly url: string;
  public readonly healthCheck: Route53HealthCheck;
  public readonly alarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: RegionHealthCheckProps) {
    super(scope, id);
    const { provider, region, namePrefix, settings } = props;
    const name = resourceName(namePrefix, `health-check-${props.role}`);
    const account = new DataAwsCallerIdentity(this, 'account', { provider }).accountId;

    this.iotEndpoint = new DataAwsIotEndpoint(this, 'iot-endpoint', { provider, endpointType: 'iot:Data-ATS' });

    // Letters and digits only: it travels in a URL query string without any encoding.
    const secret = new Password(this, 'secret', { provider: props.random, length: 40, special: false });
    this.parameter = new SsmParameter(this, 'secret-parameter', {
      provider,
      name: `/${namePrefix}/health-check/secret`,
      description: 'Secret Route 53 presents to the iot-dr health check (query parameter "key")',
      type: 'SecureString',
      keyId: 'alias/aws/ssm',
      value: secret.result,
    });

    const arn = (resource: string) => `arn:aws:iot:${region}:${account}:${resource}`;
    const statements: PolicyStatement[] = [
      { sid: 'MqttConnect', actions: ['iot:Connect'], resources: [arn(`client/${namePrefix}-hc-*`)] },
      {
        sid: 'MqttPublishReceive',
        actions: ['iot:Publish', 'iot:Receive'],
        resources: [arn(`topic/${namePrefix}/health/*`)],
      },
      { sid: 'MqttSubscribe', actions: ['iot:Subscribe'], resources: [arn(`topicfilter/${namePrefix}/health/*`)] },
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
    ];

    this.function = new NodejsFunction(this, 'function', {
      provider,
      // IAM role names are global: the region's role is part of the name.
      functionName: name,
      entry: 'health-check',
      description: `MQTT round trip through AWS IoT Core in ${region} for Route 53`,
      logRetentionDays: props.logRetentionDays,
      // More memory is more CPU: a shorter cold start inside Route 53's 2-second budget.
      memorySizeMb: 512,
      timeoutSeconds: Math.ceil(settings.deadlineMilliseconds / 1000) + 2,
      statements,
      environment: {
        IOT_DR_HEALTH_ENDPOINT: this.iotEndpoint.endpointAddress,
        IOT_DR_HEALTH_SECRET_PARAMETER: this.parameter.name,
        IOT_DR_NAME_PREFIX: namePrefix,
        IOT_DR_HEALTH_MESSAGE_COUNT: String(settings.messageCount),
        IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(settings.deadlineMilliseconds),
      },
    });

    this.api = new Apigatewayv2Api(this, 'api', {
      provider,
      name,
      protocolType: 'HTTP',
      description: `iot-dr health check of ${region} for Route 53`,
    });
    const integration = new Apigatewayv2Integration(this, 'integration', {
      provider,
      apiId: this.api.id,
      integrationType: 'AWS_PROXY',
      integrationUri: this.function.function.arn,
      payloadFormatVersion: '2.0',
      // Route 53 stops listening after 2 s anyway; the function answers before its deadline.
      timeoutMilliseconds: 5000,
    });
    new Apigatewayv2Route(this, 'route', {
      provider,
      apiId: this.api.id,
      routeKey: `GET ${HEALTH_ROUTE_PATH}`,
      target: `integrations/${integration.id}`,
    });
    const accessLogs = new CloudwatchLogGroup(this, 'access-logs', {
      provider,
      name: `/aws/apigateway/${name}`,
      retentionInDays: props.logRetentionDays,
    });
    this.stage = new Apigatewayv2Stage(this, 'stage', {
      provider,
      apiId: this.api.id,
      name: '$default',
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingRateLimit: settings.apiRateLimitPerSecond,
        throttlingBurstLimit: settings.apiBurstLimit,
      },
      accessLogSettings: {
        destinationArn: accessLogs.arn,
        // No query string in any field: the secret never reaches the logs.
        format: JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          routeKey: '$context.routeKey',
          status: '$context.status',
          responseLatency: '$context.responseLatency',
          integrationLatency: '$context.integrationLatency',
          integrationError: '$context.integrationErrorMessage',
        }),
      },
    });
    new LambdaPermission(this, 'invoke', {
      provider,
      statementId: 'AllowHealthCheckApi',
      action: 'lambda:InvokeFunction',
      functionName: this.function.function.functionName,
      principal: 'apigateway.amazonaws.com',
      sourceArn: `${this.api.executionArn}/*/GET${HEALTH_ROUTE_PATH}`,
    });
    this.url = `${this.api.apiEndpoint}${HEALTH_ROUTE_PATH}`;

    this.healthCheck = new Route53HealthCheck(this, 'route53', {
      provider: props.globalProvider,
      type: 'HTTPS',
      fqdn: `${this.api.id}.execute-api.${region}.amazonaws.com`,
      port: 443,
      // Route 53 can only send what is in the path: the secret has to be here (and so in state).
      resourcePath: `${HEALTH_ROUTE_PATH}?${HEALTH_SECRET_QUERY}=${secret.result}`,
      requestInterval: settings.intervalSeconds,
      failureThreshold: settings.failureThreshold,
      enableSni: true,
      regions: [...settings.checkerRegions],
      tags: { Name: name },
    });

    this.alarm = new CloudwatchMetricAlarm(this, 'alarm', {
      provider: props.globalProvider,
      alarmName: resourceName(namePrefix, `${props.role}-unhealthy`),
      alarmDescription: `AWS IoT Core in ${region} (${props.role}) failed the MQTT round-trip health check`,
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
  readonly random: RandomProvider;
  readonly config: IotDrConfig;
}

/**
 * Both regions' health checks and the outputs (API URLs without the
 * secret, health check ids, secret parameter names).
 */
export class HealthChecks extends Construct {
  public readonly primary: RegionHealthCheck;
  public readonly secondary: RegionHealthCheck;

  constructor(scope: Construct, id: string, props: HealthChecksProps) {
    super(scope, id);
    const { config } = props;
    const settings = config.healthCheck;

    const common = {
      globalProvider: props.globalProvider,
      random: props.random,
      namePrefix: config.namePrefix,
      settings,
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
      new TerraformOutput(this, `${role}-api-url`, {
        value: check.url,
        description: `Health-check URL in the ${role} region; append ?key=<value of the SSM parameter> to call it`,
      }).overrideLogicalId(`health_check_${role}_url`);
      new TerraformOutput(this, `${role}-health-check-id`, { value: check.healthCheck.id }).overrideLogicalId(
        `health_check_${role}_id`,
      );
      new TerraformOutput(this, `${role}-secret-parameter`, { value: check.parameter.name }).overrideLogicalId(
        `health_check_${role}_secret_parameter`,
      );
    }
  }
}
