import { AwsProvider, type AwsProviderEndpoints } from '@cdktf/provider-aws/lib/provider';
import type { Construct } from 'constructs';

/** Services whose endpoints a test run redirects (every service the stack manages). */
const SERVICES = [
  'acm',
  'apigateway',
  'apigatewayv2',
  'cloudwatch',
  'dynamodb',
  'events',
  'iam',
  'iot',
  'kms',
  'lambda',
  'logs',
  'route53',
  'scheduler',
  'sfn',
  'sns',
  'sqs',
  'ssm',
  'sts',
  's3',
] as const;

export interface RegionProviderProps {
  readonly alias: string;
  readonly region: string;
  readonly tags: Record<string, string>;
  /**
   * Test-only: send every API call to this endpoint (an emulator on loopback) with fake
   * credentials. Set by the `IOT_DR_TEST_ENDPOINT` environment variable; never in a normal synth.
   */
  readonly testEndpoint?: string;
}

/** An aliased AWS provider for one region, with default tags. */
export function regionProvider(scope: Construct, id: string, props: RegionProviderProps): AwsProvider {
  const test = props.testEndpoint
    ? {
        accessKey: 'testing',
        secretKey: 'testing',
        skipCredentialsValidation: true,
        skipMetadataApiCheck: 'true',
        skipRequestingAccountId: true,
        skipRegionValidation: true,
        s3UsePathStyle: true,
        endpoints: [Object.fromEntries(SERVICES.map((s) => [s, props.testEndpoint])) as AwsProviderEndpoints],
      }
    : {};
  return new AwsProvider(scope, id, {
    alias: props.alias,
    region: props.region,
    defaultTags: [{ tags: props.tags }],
    ...test,
  });
}
