/**
 * The health-check function's settings from its environment, read once per cold start. A missing
 * or malformed variable fails the cold start loudly instead of producing a check that lies.
 */
import { readFileSync } from 'node:fs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { secretGuard, ssmSecretLoader } from './guard';
import type { HealthCheckSettings } from './check';
import { type CanarySettings, cloudWatchPublisher } from './canary';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
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
  /** Seconds the previous secret version stays valid after a rotation. */
  overlapSeconds: 'IOT_DR_HEALTH_SECRET_OVERLAP_SECONDS',
  /** Canary: seconds between two checks of one run. */
  canaryIntervalSeconds: 'IOT_DR_CANARY_INTERVAL_SECONDS',
  /** Canary: checks per run. */
  canaryChecks: 'IOT_DR_CANARY_CHECKS',
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

export function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new HealthCheckConfigError(`environment variable ${name} is required`);
  return value;
}

export function integer(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const raw = required(env, name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new HealthCheckConfigError(
      `environment variable ${name} must be a whole number between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

/** Where and how a round trip connects: the presigned IoT Core URL (or the test override) and CA. */
export interface BrokerTarget {
  readonly brokerUrl: () => Promise<string>;
  readonly ca?: string;
}

/** The broker target from the environment (shared by the API-mode function and the canary). */
export function brokerTargetFromEnv(env: NodeJS.ProcessEnv = process.env): BrokerTarget {
  const region = required(env, ENV.region);
  const host = required(env, ENV.endpoint);
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
  // Lambda puts the role's credentials into the environment. Reading them there (and only there)
  // costs no I/O, and a missing credential fails at once: the default chain would go on to the
  // instance metadata service and spend the health check's 2-second budget on time-outs.
  const credentials = fromEnv();
  return {
    ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    brokerUrl: async () => {
      const signed = await presignMqttUrl({ host, region, credentials: await credentials() });
      if (!target) return signed;
      const url = new URL(signed);
      return `${target.protocol}//${target.host}${url.pathname}${url.search}`;
    },
  };
}

/** Round-trip settings shared by both functions. */
export function roundTripSettingsFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return {
    namePrefix: required(env, ENV.namePrefix),
    messageCount: integer(env, ENV.messageCount, 1, 10),
    deadlineMs: integer(env, ENV.deadlineMs, 100, 30000),
  };
}

/** Builds the settings from the environment; creates the SSM client (once per module). */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): HealthCheckSettings {
  const region = required(env, ENV.region);
  const parameterName = required(env, ENV.secretParameter);
  const target = brokerTargetFromEnv(env);
  const round = roundTripSettingsFromEnv(env);
  const awsEndpoint = env[ENV.awsEndpoint];
  // Bounded twice over: every read carries an abort signal tied to the invocation's deadline
  // (functions/lib/health/guard.ts), and the handler's own timeouts throw instead of only warning
  // (`requestTimeout` alone merely logs unless `throwOnRequestTimeout` is set).
  const ssm = new SSMClient({
    region,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 500, requestTimeout: 700, throwOnRequestTimeout: true }),
    ...(awsEndpoint ? { endpoint: awsEndpoint } : {}),
  });
  const overlapMs = (env[ENV.overlapSeconds] ? integer(env, ENV.overlapSeconds, 60, 86400) : 3600) * 1000;
  return {
    ...round,
    ...target,
    guard: secretGuard(ssmSecretLoader(ssm, parameterName, { overlapMs }), { overlapMs, parameterName }),
  };
}

/** The canary's settings from its environment; creates the CloudWatch client (once per module). */
export function canarySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): CanarySettings {
  const region = required(env, ENV.region);
  const target = brokerTargetFromEnv(env);
  const round = roundTripSettingsFromEnv(env);
  const awsEndpoint = env[ENV.awsEndpoint];
  const cloudwatch = new CloudWatchClient({
    region,
    maxAttempts: 2,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 2000, throwOnRequestTimeout: true }),
    ...(awsEndpoint ? { endpoint: awsEndpoint } : {}),
  });
  return {
    ...round,
    ...target,
    intervalMs: integer(env, ENV.canaryIntervalSeconds, 1, 60) * 1000,
    checks: integer(env, ENV.canaryChecks, 1, 60),
    publish: cloudWatchPublisher(cloudwatch, round.namePrefix),
  };
}
