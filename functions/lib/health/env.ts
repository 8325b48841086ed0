/**
 * The health-check function's settings from its environment, read once per cold start. A missing
 * or malformed variable fails the cold start loudly instead of producing a check that lies.
 */
import { readFileSync } from 'node:fs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { cachedSecret, ssmSecretLoader } from './guard';
import type { HealthCheckSettings } from './check';
import { presignMqttUrl } from './signed-url';

/** Environment variable names (the stack sets them; tests set the test-only ones). */
export const ENV = {
  /** Region of the function (set by Lambda). */
  region: 'AWS_REGION',
  /** IoT Core data endpoint host (`iot:Data-ATS`), resolved at deploy time. */
  endpoint: 'IOT_DR_HEALTH_ENDPOINT',
  /** Name of the SecureString parameter holding the secret. */
  secretParameter: 'IOT_DR_HEALTH_SECRET_PARAMETER',
  namePrefix: 'IOT_DR_NAME_PREFIX',
  messageCount: 'IOT_DR_HEALTH_MESSAGE_COUNT',
  deadlineMs: 'IOT_DR_HEALTH_DEADLINE_MILLISECONDS',
  /**
   * Test-only: connect to this `ws://` or `wss://host:port` instead of the endpoint. The URL is
   * still presigned for the endpoint, so the signing path runs exactly as in production.
   */
  endpointUrl: 'IOT_DR_HEALTH_ENDPOINT_URL',
  /** Test-only: PEM file of a CA to trust for the broker's certificate. */
  caFile: 'IOT_DR_HEALTH_CA_FILE',
  /** Test-only: endpoint of every AWS API call (an emulator on loopback). */
  awsEndpoint: 'IOT_DR_AWS_ENDPOINT',
} as const;

/** A required variable is missing or malformed. */
export class HealthCheckConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HealthCheckConfigError';
  }
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new HealthCheckConfigError(`environment variable ${name} is required`);
  return value;
}

function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const raw = required(env, name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HealthCheckConfigError(
      `environment variable ${name} must be a whole number between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

/** Builds the settings from the environment; creates the SSM client (once per module). */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): HealthCheckSettings {
  const region = required(env, ENV.region);
  const host = required(env, ENV.endpoint);
  const parameterName = required(env, ENV.secretParameter);
  const override = env[ENV.endpointUrl];
  let target: URL | undefined;
  if (override) {
    target = new URL(override);
    if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
      throw new HealthCheckConfigError(
        `${ENV.endpointUrl} must be a ws:// or wss:// URL (got ${JSON.stringify(override)})`,
      );
    }
  }
  const caFile = env[ENV.caFile];
  const awsEndpoint = env[ENV.awsEndpoint];
  // Bounded: a hanging SSM call must not hold the answer past Route 53's 2-second limit.
  const ssm = new SSMClient({
    region,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 500, requestTimeout: 1000 },
    ...(awsEndpoint ? { endpoint: awsEndpoint } : {}),
  });
  // Lambda puts the role's credentials into the environment. Reading them there (and only there)
  // costs no I/O, and a missing credential fails at once: the default chain would go on to the
  // instance metadata service and spend the health check's 2-second budget on time-outs.
  const credentials = fromEnv();

  return {
    namePrefix: required(env, ENV.namePrefix),
    messageCount: integer(env, ENV.messageCount, 1, 10),
    deadlineMs: integer(env, ENV.deadlineMs, 100, 30000),
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    secret: cachedSecret(ssmSecretLoader(ssm, parameterName)),
    brokerUrl: async () => {
      const signed = await presignMqttUrl({ host, region, credentials: await credentials() });
      if (!target) return signed;
      const url = new URL(signed);
      return `${target.protocol}//${target.host}${url.pathname}${url.search}`;
    },
  };
}
