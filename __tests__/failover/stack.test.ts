/**
 * Stack tests of the failover part: APIs, Route 53 health checks, alarms, failover records, the
 * custom domain and the health-check function's IAM, for three configurations.
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { bundleFunction } from '../../stacks/bundle';
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const ZONE = 'Z0123456789ABCDEFGHIJ';

/** The one resource of a type whose logical id contains every fragment. */
function one(tf: TerraformJson, type: string, ...fragments: string[]): Record<string, any> {
  const hits = resourcesOf(tf, type).filter(([id]) => fragments.every((f) => id.includes(f)));
  if (hits.length !== 1) throw new Error(`expected one ${type} matching ${fragments.join('+')}, found ${hits.length}`);
  return hits[0][1];
}

/** Terraform reference `${type.logicalId.attr}` of the one resource matching the fragments. */
function ref(tf: TerraformJson, type: string, attr: string, ...fragments: string[]): string {
  const hits = resourcesOf(tf, type).filter(([id]) => fragments.every((f) => id.includes(f)));
  if (hits.length !== 1) throw new Error(`expected one ${type} matching ${fragments.join('+')}, found ${hits.length}`);
  return `\${${type}.${hits[0][0]}.${attr}}`;
}

function dataRef(tf: TerraformJson, type: string, attr: string, ...fragments: string[]): string {
  const hits = Object.keys(tf.data?.[type] ?? {}).filter((id) => fragments.every((f) => id.includes(f)));
  if (hits.length !== 1)
    throw new Error(`expected one data.${type} matching ${fragments.join('+')}, found ${hits.length}`);
  return `\${data.${type}.${hits[0]}.${attr}}`;
}

describe('Stack: failover in API mode (us-east-1 + us-west-2, no DNS)', () => {
  const tf = synthJson({ healthCheck: { mode: 'api' } });

  it.each([
    ['primary', 'aws.primary'],
    ['secondary', 'aws.secondary'],
  ])('deploys the %s REST API with a GET /health Lambda proxy method and no stage throttle', (role, provider) => {
    const api = one(tf, 'aws_api_gateway_rest_api', `health-check_${role}_`);
    expect(api).toMatchObject({
      provider,
      name: `iot-dr-health-check-${role}`,
      endpoint_configuration: { types: ['REGIONAL'] },
    });
    expect(one(tf, 'aws_api_gateway_resource', `health-check_${role}_`)).toMatchObject({
      provider,
      path_part: 'health',
    });
    expect(one(tf, 'aws_api_gateway_method', `health-check_${role}_`)).toMatchObject({
      provider,
      http_method: 'GET',
      authorization: 'NONE',
    });
    expect(one(tf, 'aws_api_gateway_integration', `health-check_${role}_`)).toMatchObject({
      provider,
      type: 'AWS_PROXY',
      integration_http_method: 'POST',
      uri: ref(tf, 'aws_lambda_function', 'invoke_arn', `health-check_${role}_`),
    });
    expect(one(tf, 'aws_api_gateway_stage', `health-check_${role}_`)).toMatchObject({ provider, stage_name: 'live' });
    // A throttle counts requests before the key is checked: a flood would exhaust it (issue 9, threat 1).
    expect(tf.resource.aws_api_gateway_method_settings).toBeUndefined();
    // Any change of the policy or the route makes a new deployment
    expect(one(tf, 'aws_api_gateway_deployment', `health-check_${role}_`).triggers.redeployment).toContain(
      'aws_api_gateway_rest_api.',
    );
  });

  it.each([
    ['primary', 'aws.primary'],
    ['secondary', 'aws.secondary'],
  ])(
    'threat: a flood from anywhere else is refused by the %s API resource policy, which admits only Route 53 checkers',
    (role, provider) => {
      // Given the checker ranges of the configured checker regions, read from ip-ranges.json at plan time
      const ranges = Object.entries(tf.data?.aws_ip_ranges ?? {}).filter(([id]) =>
        id.includes(`health-check_${role}_`),
      );
      expect(ranges).toHaveLength(1);
      expect(ranges[0][1]).toMatchObject({
        provider,
        services: ['route53_healthchecks'],
        regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
      });
      const data = `data.aws_ip_ranges.${ranges[0][0]}`;
      const cidrs = `concat(${data}.cidr_blocks, ${data}.ipv6_cidr_blocks)`;
      // Then the policy allows GET /health from those ranges only, and denies everything from anywhere else
      const policy = one(tf, 'aws_api_gateway_rest_api', `health-check_${role}_`).policy as string;
      expect(policy.startsWith('${jsonencode({"Version" = "2012-10-17", "Statement" = [')).toBe(true);
      expect(policy.match(/\{"Sid" = [\s\S]*?\}\}\}/g)).toEqual([
        `{"Sid" = "Route53HealthCheckersOnly", "Effect" = "Allow", "Principal" = "*", "Action" = "execute-api:Invoke", "Resource" = "execute-api:/live/GET/health", "Condition" = {"IpAddress" = {"aws:SourceIp" = ${cidrs}}}}`,
        `{"Sid" = "DenyEveryoneElse", "Effect" = "Deny", "Principal" = "*", "Action" = "execute-api:Invoke", "Resource" = "execute-api:/*", "Condition" = {"NotIpAddress" = {"aws:SourceIp" = ${cidrs}}}}`,
      ]);
      // And the function can be reached only through that API's stage and route (no function URL, no
      // other permission): a refused request never reaches it
      const permissions = resourcesOf(tf, 'aws_lambda_permission').filter(([id]) =>
        id.includes(`health-check_${role}_api`),
      );
      expect(permissions.map(([, p]) => p.source_arn)).toEqual([
        `${ref(tf, 'aws_api_gateway_rest_api', 'execution_arn', `health-check_${role}_`)}/live/GET/health`,
      ]);
      expect(tf.resource.aws_lambda_function_url).toBeUndefined();
    },
  );

  it.each(['primary', 'secondary'])(
    'runs the %s function without source maps (first error inside the deadline) and with reserved concurrency',
    (role) => {
      const fn = one(tf, 'aws_lambda_function', `health-check_${role}_`);
      expect(fn.environment.variables.NODE_OPTIONS).toBeUndefined();
      expect(fn.reserved_concurrent_executions).toBe(10);
      expect(fn.environment.variables.IOT_DR_HEALTH_SECRET_OVERLAP_SECONDS).toBe('3600');
    },
  );

  it.each([
    ['primary', 'us-east-1'],
    ['secondary', 'us-west-2'],
  ])(
    'checks the %s API over HTTPS with SNI, the configured interval, threshold and checker regions',
    (role, region) => {
      const check = one(tf, 'aws_route53_health_check', `health-check_${role}_`);
      expect(check).toMatchObject({
        type: 'HTTPS',
        port: 443,
        enable_sni: true,
        request_interval: 10,
        failure_threshold: 3,
        regions: ['us-east-1', 'us-west-2', 'eu-west-1'],
        fqdn: `${ref(tf, 'aws_api_gateway_rest_api', 'id', `health-check_${role}_`)}.execute-api.${region}.amazonaws.com`,
        // us-east-1 is the primary region here: its provider serves Route 53 and the alarms.
        provider: 'aws.primary',
      });
      expect(check.resource_path).toBe(
        `/live/health?key=${ref(tf, 'random_password', 'result', `health-check_${role}_`)}`,
      );
    },
  );

  it('generates one secret per region with the random provider and keeps it in SSM as a SecureString', () => {
    expect(tf.provider.random).toBeDefined();
    for (const [role, provider] of [
      ['primary', 'aws.primary'],
      ['secondary', 'aws.secondary'],
    ]) {
      expect(one(tf, 'random_password', `health-check_${role}_`)).toMatchObject({
        provider: 'random',
        length: 40,
        special: false,
      });
      expect(one(tf, 'aws_ssm_parameter', `health-check_${role}_`)).toMatchObject({
        provider,
        type: 'SecureString',
        key_id: 'alias/aws/ssm',
        name: '/iot-dr/health-check/secret',
        value: ref(tf, 'random_password', 'result', `health-check_${role}_`),
      });
    }
  });

  it('alarms on each HealthCheckStatus in us-east-1, without a topic when no e-mail is configured', () => {
    for (const role of ['primary', 'secondary']) {
      const alarm = one(tf, 'aws_cloudwatch_metric_alarm', `health-check_${role}_alarm`);
      expect(alarm).toMatchObject({
        provider: 'aws.primary',
        namespace: 'AWS/Route53',
        metric_name: 'HealthCheckStatus',
        dimensions: { HealthCheckId: ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_`) },
        statistic: 'Minimum',
        comparison_operator: 'LessThanThreshold',
        threshold: 1,
      });
      expect(alarm.alarm_actions).toBeUndefined();
    }
    expect(tf.resource.aws_sns_topic).toBeUndefined();
  });

  it('creates no DNS records, certificates or domain configurations without DNS configuration', () => {
    for (const type of ['aws_route53_record', 'aws_acm_certificate', 'aws_iot_domain_configuration']) {
      expect(tf.resource[type]).toBeUndefined();
    }
  });

  it('outputs API URLs, health check ids and parameter names, never the secret', () => {
    const outputs = tf.output ?? {};
    for (const role of ['primary', 'secondary']) {
      expect(outputs[`health_check_${role}_url`].value).toBe(
        `${ref(tf, 'aws_api_gateway_stage', 'invoke_url', `health-check_${role}_`)}/health`,
      );
      expect(outputs[`health_check_${role}_id`].value).toBe(
        ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_`),
      );
      expect(outputs[`health_check_${role}_secret_parameter`].value).toBe(
        ref(tf, 'aws_ssm_parameter', 'name', `health-check_${role}_`),
      );
    }
    expect(JSON.stringify(outputs)).not.toMatch(/random_password|resource_path|\.value\}/);
  });

  it('passes the IoT data endpoint (resolved at deploy time) and the settings to each function', () => {
    for (const [role, provider] of [
      ['primary', 'aws.primary'],
      ['secondary', 'aws.secondary'],
    ]) {
      expect(Object.values(tf.data?.aws_iot_endpoint ?? {}).filter((d) => d.provider === provider)).toEqual([
        expect.objectContaining({ endpoint_type: 'iot:Data-ATS' }),
      ]);
      const fn = one(tf, 'aws_lambda_function', `health-check_${role}_`);
      expect(fn).toMatchObject({ provider, runtime: 'nodejs22.x' });
      expect(fn.environment.variables).toMatchObject({
        IOT_DR_HEALTH_ENDPOINT: dataRef(tf, 'aws_iot_endpoint', 'endpoint_address', `health-check_${role}_`),
        IOT_DR_HEALTH_SECRET_PARAMETER: ref(tf, 'aws_ssm_parameter', 'name', `health-check_${role}_`),
        IOT_DR_NAME_PREFIX: 'iot-dr',
        IOT_DR_HEALTH_MESSAGE_COUNT: '2',
        IOT_DR_HEALTH_DEADLINE_MILLISECONDS: '1500',
      });
      expect(JSON.stringify(fn.environment)).not.toMatch(/random_password/);
    }
  });

  it.each([
    ['primary', 'us-east-1'],
    ['secondary', 'us-west-2'],
  ])('grants the %s function exactly its MQTT client, topics, parameter and key', (role, region) => {
    const policy = one(tf, 'aws_iam_role_policy', `health-check_${role}_api_function_policy`);
    const statements = JSON.parse(policy.policy).Statement as Array<Record<string, any>>;
    const account = dataRef(tf, 'aws_caller_identity', 'account_id', `health-check_${role}_`);
    const iot = (r: string) => `arn:aws:iot:${region}:${account}:${r}`;
    const parameterArn = ref(tf, 'aws_ssm_parameter', 'arn', `health-check_${role}_`);
    expect(statements.map(({ Sid, Action, Resource, Condition }) => ({ Sid, Action, Resource, Condition }))).toEqual([
      {
        Sid: 'OwnLogs',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [expect.stringMatching(/:\*$/)],
        Condition: undefined,
      },
      { Sid: 'MqttConnect', Action: ['iot:Connect'], Resource: [iot('client/iot-dr-hc-*')], Condition: undefined },
      {
        Sid: 'MqttPublishReceive',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: [iot('topic/iot-dr/health/*')],
        Condition: undefined,
      },
      {
        Sid: 'MqttSubscribe',
        Action: ['iot:Subscribe'],
        Resource: [iot('topicfilter/iot-dr/health/*')],
        Condition: undefined,
      },
      { Sid: 'ReadSecret', Action: ['ssm:GetParameter'], Resource: [parameterArn], Condition: undefined },
      {
        Sid: 'DecryptSecret',
        Action: ['kms:Decrypt'],
        Resource: [`arn:aws:kms:${region}:${account}:key/*`],
        Condition: {
          StringEquals: {
            'kms:ViaService': `ssm.${region}.amazonaws.com`,
            'kms:EncryptionContext:PARAMETER_ARN': parameterArn,
          },
        },
      },
    ]);
  });
});

describe('Stack: failover with the default configuration (canary mode, us-east-1 + us-west-2)', () => {
  const tf = synthJson({});

  it('has no public health endpoint and no secret: no API, no password, no SSM parameter, no random resource', () => {
    for (const type of [
      'aws_api_gateway_rest_api',
      'aws_apigatewayv2_api',
      'aws_lambda_function_url',
      'random_password',
      'aws_ssm_parameter',
    ]) {
      const ours = resourcesOf(tf, type).filter(([id]) => id.startsWith('health-check'));
      expect([type, ours]).toEqual([type, []]);
    }
    expect(JSON.stringify(tf.resource)).not.toMatch(/random_password|resource_path/);
    expect(tf.provider.random).toBeUndefined();
    expect(resourcesOf(tf, 'aws_route53_health_check').every(([, c]) => c.type === 'CLOUDWATCH_METRIC')).toBe(true);
  });

  it.each([
    ['primary', 'aws.primary', 'us-east-1'],
    ['secondary', 'aws.secondary', 'us-west-2'],
  ])(
    'runs the %s canary every minute, 6 checks 10 s apart, with reserved concurrency and no retries',
    (role, provider) => {
      expect(one(tf, 'aws_cloudwatch_event_rule', `health-check_${role}_canary`)).toMatchObject({
        provider,
        schedule_expression: 'rate(1 minute)',
      });
      expect(one(tf, 'aws_cloudwatch_event_target', `health-check_${role}_canary`).arn).toBe(
        ref(tf, 'aws_lambda_function', 'arn', `health-check_${role}_canary`),
      );
      expect(one(tf, 'aws_lambda_permission', `health-check_${role}_canary`)).toMatchObject({
        principal: 'events.amazonaws.com',
        source_arn: ref(tf, 'aws_cloudwatch_event_rule', 'arn', `health-check_${role}_canary`),
      });
      const fn = one(tf, 'aws_lambda_function', `health-check_${role}_canary`);
      expect(fn).toMatchObject({ provider, reserved_concurrent_executions: 2, timeout: 57 });
      expect(fn.environment.variables).toMatchObject({
        IOT_DR_CANARY_CHECKS: '6',
        IOT_DR_CANARY_INTERVAL_SECONDS: '10',
        IOT_DR_HEALTH_ENDPOINT: dataRef(tf, 'aws_iot_endpoint', 'endpoint_address', `health-check_${role}_`),
      });
      expect(fn.environment.variables.NODE_OPTIONS).toBeUndefined();
      expect(one(tf, 'aws_lambda_function_event_invoke_config', `health-check_${role}_canary`)).toMatchObject({
        maximum_retry_attempts: 0,
      });
    },
  );

  it.each([
    ['primary', 'aws.primary', 'us-east-1'],
    ['secondary', 'aws.secondary', 'us-west-2'],
  ])(
    'threat (dead region): the %s alarm treats missing data as breaching, and Route 53 insufficient data as unhealthy',
    (role, provider, region) => {
      const alarm = one(tf, 'aws_cloudwatch_metric_alarm', `health-check_${role}_canary_alarm`);
      expect(alarm).toMatchObject({
        provider,
        alarm_name: `iot-dr-${role}-canary`,
        namespace: 'IotDr/Health',
        metric_name: 'RoundTripFailed',
        dimensions: { Stack: 'iot-dr' },
        statistic: 'Sum',
        // Route 53 reads only standard-resolution alarms: the period is one minute
        period: 60,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 3,
        comparison_operator: 'GreaterThanOrEqualToThreshold',
        treat_missing_data: 'breaching',
      });
      expect(one(tf, 'aws_route53_health_check', `health-check_${role}_`)).toMatchObject({
        provider: 'aws.primary',
        type: 'CLOUDWATCH_METRIC',
        cloudwatch_alarm_name: ref(
          tf,
          'aws_cloudwatch_metric_alarm',
          'alarm_name',
          `health-check_${role}_canary_alarm`,
        ),
        cloudwatch_alarm_region: region,
        insufficient_data_health_status: 'Unhealthy',
      });
    },
  );

  it.each([
    ['primary', 'us-east-1'],
    ['secondary', 'us-west-2'],
  ])('grants the %s canary its MQTT client and topics, and PutMetricData in its namespace only', (role, region) => {
    const policy = one(tf, 'aws_iam_role_policy', `health-check_${role}_canary_function_policy`);
    const statements = JSON.parse(policy.policy).Statement as Array<Record<string, any>>;
    const account = dataRef(tf, 'aws_caller_identity', 'account_id', `health-check_${role}_`);
    expect(statements.map((s) => s.Sid)).toEqual([
      'OwnLogs',
      'MqttConnect',
      'MqttPublishReceive',
      'MqttSubscribe',
      'Metrics',
      'DeadLetters',
    ]);
    expect(statements[1].Resource).toEqual([`arn:aws:iot:${region}:${account}:client/iot-dr-hc-*`]);
    expect(statements[4]).toMatchObject({
      Action: ['cloudwatch:PutMetricData'],
      Resource: ['*'],
      Condition: { StringEquals: { 'cloudwatch:namespace': 'IotDr/Health' } },
    });
  });

  it('outputs the health check ids and the canary alarms, and no URL or parameter', () => {
    const outputs = tf.output ?? {};
    for (const role of ['primary', 'secondary']) {
      expect(outputs[`health_check_${role}_id`].value).toBe(
        ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_`),
      );
      expect(outputs[`health_check_${role}_canary_alarm`].value).toBe(
        ref(tf, 'aws_cloudwatch_metric_alarm', 'alarm_name', `health-check_${role}_canary_alarm`),
      );
      expect(outputs[`health_check_${role}_url`]).toBeUndefined();
      expect(outputs[`health_check_${role}_secret_parameter`]).toBeUndefined();
    }
  });
});

describe('Stack: failover with both signals', () => {
  const tf = synthJson({ healthCheck: { mode: 'both' }, dns: { hostedZoneId: ZONE, recordName: 'iot.example.com' } });

  it.each(['primary', 'secondary'])(
    'threat: the outside-in check alone cannot fail the %s region over (calculated check: unhealthy only when both are)',
    (role) => {
      const canary = ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_canary`);
      const api = ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_api`);
      expect(one(tf, 'aws_route53_health_check', `health-check_${role}_route53`)).toMatchObject({
        type: 'CALCULATED',
        child_healthchecks: [canary, api],
        child_health_threshold: 1,
      });
      expect(one(tf, 'aws_route53_record', `failover-dns_${role}-record`).health_check_id).toBe(
        ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_route53`),
      );
    },
  );
});

describe('Stack: failover with DNS, a custom domain and alarm e-mail (eu-west-1 + eu-central-1)', () => {
  const tf = synthJson({
    primaryRegion: 'eu-west-1',
    secondaryRegion: 'eu-central-1',
    dns: { hostedZoneId: ZONE, recordName: 'iot.example.com', ttlSeconds: 20, customDomain: true },
    alarms: { email: 'ops@example.com' },
    healthCheck: {
      mode: 'api',
      intervalSeconds: 30,
      failureThreshold: 2,
      checkerRegions: ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'sa-east-1'],
    },
  });

  it('adds a third provider in us-east-1 for Route 53 and the alarms', () => {
    expect(tf.provider.aws.find((p) => p.alias === 'global')).toMatchObject({ region: 'us-east-1' });
    for (const type of [
      'aws_route53_health_check',
      'aws_cloudwatch_metric_alarm',
      'aws_sns_topic',
      'aws_route53_record',
    ]) {
      const ours = resourcesOf(tf, type).filter(
        ([id]) => id.startsWith('health-check') || id.startsWith('failover-dns') || id.startsWith('alarms_us-east-1'),
      );
      expect(ours.length).toBeGreaterThan(0);
      for (const [id, body] of ours) expect([id, body.provider]).toEqual([id, 'aws.global']);
    }
  });

  it('applies the configured interval, threshold and checker regions', () => {
    for (const role of ['primary', 'secondary']) {
      expect(one(tf, 'aws_route53_health_check', `health-check_${role}_`)).toMatchObject({
        request_interval: 30,
        failure_threshold: 2,
        regions: ['us-east-1', 'eu-west-1', 'ap-southeast-1', 'sa-east-1'],
      });
    }
  });

  it('notifies the e-mail topic in us-east-1, encrypted with a key CloudWatch may use', () => {
    const topicArn = ref(tf, 'aws_sns_topic', 'arn', 'alarms_us-east-1-topic');
    for (const role of ['primary', 'secondary']) {
      expect(one(tf, 'aws_cloudwatch_metric_alarm', `health-check_${role}_alarm`)).toMatchObject({
        alarm_actions: [topicArn],
        ok_actions: [topicArn],
      });
    }
    expect(one(tf, 'aws_sns_topic', 'alarms_us-east-1-topic')).toMatchObject({
      name: 'iot-dr-alarms',
      kms_master_key_id: ref(tf, 'aws_kms_key', 'arn', 'alarms_us-east-1-key'),
    });
    expect(one(tf, 'aws_sns_topic_subscription', 'alarms_us-east-1-email')).toMatchObject({
      protocol: 'email',
      endpoint: 'ops@example.com',
      topic_arn: topicArn,
    });
    const key = one(tf, 'aws_kms_key', 'alarms_us-east-1-key');
    expect(key).toMatchObject({ enable_key_rotation: true, provider: 'aws.global' });
    expect(key.policy).toContain('cloudwatch.amazonaws.com');
    expect(key.policy).not.toMatch(/"kms:\*"|\\"kms:\*\\"/);
  });

  it.each([
    ['primary', 'PRIMARY'],
    ['secondary', 'SECONDARY'],
  ])(
    'routes the hostname to the %s IoT endpoint with failover routing, its health check and the TTL',
    (role, failover) => {
      expect(one(tf, 'aws_route53_record', `failover-dns_${role}-record`)).toMatchObject({
        zone_id: ZONE,
        name: 'iot.example.com',
        type: 'CNAME',
        ttl: 20,
        records: [dataRef(tf, 'aws_iot_endpoint', 'endpoint_address', `health-check_${role}_`)],
        set_identifier: `iot-dr-${role}`,
        failover_routing_policy: { type: failover },
        health_check_id: ref(tf, 'aws_route53_health_check', 'id', `health-check_${role}_`),
      });
    },
  );

  it.each([
    ['primary', 'aws.primary'],
    ['secondary', 'aws.secondary'],
  ])(
    'serves the hostname from an IoT domain configuration in the %s region with a DNS-validated ACM certificate',
    (role, provider) => {
      const cert = one(tf, 'aws_acm_certificate', `${role}-certificate`);
      expect(cert).toMatchObject({ provider, domain_name: 'iot.example.com', validation_method: 'DNS' });
      const validationRecord = one(tf, 'aws_route53_record', `${role}-validation-record`);
      expect(validationRecord).toMatchObject({ zone_id: ZONE, provider: 'aws.global', allow_overwrite: true });
      expect(validationRecord.name).toContain(
        `aws_acm_certificate.${resourcesOf(tf, 'aws_acm_certificate').find(([id]) => id.includes(`${role}-certificate`))?.[0]}.domain_validation_options`,
      );
      expect(one(tf, 'aws_acm_certificate_validation', `${role}-certificate-validation`)).toMatchObject({
        provider,
        certificate_arn: ref(tf, 'aws_acm_certificate', 'arn', `${role}-certificate`),
        validation_record_fqdns: [ref(tf, 'aws_route53_record', 'fqdn', `${role}-validation-record`)],
      });
      expect(one(tf, 'aws_iot_domain_configuration', `${role}-domain`)).toMatchObject({
        provider,
        name: 'iot-dr-devices',
        domain_name: 'iot.example.com',
        service_type: 'DATA',
        server_certificate_arns: [
          ref(tf, 'aws_acm_certificate_validation', 'certificate_arn', `${role}-certificate-validation`),
        ],
      });
    },
  );

  it('outputs the device hostname', () => {
    expect(tf.output?.device_hostname.value).toBe('iot.example.com');
  });
});

describe('Stack: failover with DNS but no custom domain, secondary in us-east-1', () => {
  const tf = synthJson({
    primaryRegion: 'us-west-2',
    secondaryRegion: 'us-east-1',
    dns: { hostedZoneId: ZONE, recordName: 'iot.example.com' },
  });

  it('uses the secondary provider (us-east-1) for Route 53 and alarms, with no third provider', () => {
    expect(tf.provider.aws.map((p) => p.alias).sort()).toEqual(['primary', 'secondary']);
    for (const role of ['primary', 'secondary']) {
      expect(one(tf, 'aws_route53_health_check', `health-check_${role}_`).provider).toBe('aws.secondary');
      expect(one(tf, 'aws_cloudwatch_metric_alarm', `health-check_${role}_alarm`).provider).toBe('aws.secondary');
      // The canary's own alarm lives in its region (Route 53 reads alarms in any region)
      expect(one(tf, 'aws_cloudwatch_metric_alarm', `health-check_${role}_canary_alarm`).provider).toBe(`aws.${role}`);
      expect(one(tf, 'aws_route53_record', `failover-dns_${role}-record`)).toMatchObject({
        provider: 'aws.secondary',
        ttl: 30,
      });
    }
  });

  it('creates the failover records without certificates or domain configurations', () => {
    expect(resourcesOf(tf, 'aws_route53_record')).toHaveLength(2);
    expect(tf.resource.aws_acm_certificate).toBeUndefined();
    expect(tf.resource.aws_iot_domain_configuration).toBeUndefined();
  });
});

describe('Bundle: health-check', () => {
  it('ships no private key or certificate, and stays small enough for a fast cold start', () => {
    const bundle = bundleFunction('health-check');
    const files = unzipSync(readFileSync(bundle.zipPath));

    expect(Object.keys(files).sort()).toEqual(['index.js', 'index.js.map']);
    const code = Buffer.from(files['index.js']).toString('utf8');
    expect(code).not.toMatch(/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/);
    expect(code).toContain('iotdevicegateway');
    expect(bundle.codeBytes).toBeLessThan(1.5 * 1024 * 1024);
  });
});
