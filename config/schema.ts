/**
 * The one typed configuration of an iot-dr deployment.
 *
 * Every field has a default, so an empty object (or no file at all) is a valid configuration.
 * Units are part of the field names. Unknown keys are rejected at every level, so a typo never
 * silently falls back to a default.
 */
import { z } from 'zod';
import {
  EXPRESS_BUDGET_SECONDS,
  taskTimeoutFor,
  worstCaseBatchItemSeconds,
  worstCaseDeferSeconds,
  worstCaseRecordSeconds,
  worstCaseTaskSeconds,
} from '../stacks/workflow-definition';

/**
 * Regions where AWS IoT Core, DynamoDB global tables, Step Functions and Lambda are all
 * available (https://docs.aws.amazon.com/general/latest/gr/iot-core.html).
 */
export const IOT_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-north-1',
  'eu-south-1',
  'me-south-1',
  'me-central-1',
  'ap-east-1',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
] as const;

export type IotRegion = (typeof IOT_REGIONS)[number];

/** Values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy). */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Regions Route 53 health checkers run from (a health check needs at least three). */
export const HEALTH_CHECKER_REGIONS = [
  'us-east-1',
  'us-west-1',
  'us-west-2',
  'eu-west-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-northeast-1',
  'sa-east-1',
] as const;

const region = z.enum(IOT_REGIONS, {
  error: (issue) =>
    `unknown region ${JSON.stringify(issue.input)}; must be one of the regions where AWS IoT Core runs: ${IOT_REGIONS.join(', ')}`,
});

/**
 * Any AWS region name (a state bucket may live where IoT Core does not run, e.g. eu-central-2):
 * `<area>[-gov|-iso...]-<direction>-<number>`. https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
 */
const awsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, {
  error: (issue) => `must be an AWS region name such as eu-central-2 (got ${JSON.stringify(issue.input)})`,
});

const int = (min: number, max: number) =>
  z
    .number({ error: (issue) => `must be a number (got ${JSON.stringify(issue.input)})` })
    .int({ error: (issue) => `must be a whole number (got ${JSON.stringify(issue.input)})` })
    .min(min, { error: (issue) => `must be between ${min} and ${max} (got ${JSON.stringify(issue.input)})` })
    .max(max, { error: (issue) => `must be between ${min} and ${max} (got ${JSON.stringify(issue.input)})` });

/** Resource names are built as `<namePrefix>-<purpose>`; the prefix must suit every service. */
const namePrefix = z.string().regex(/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/, {
  error: (issue) =>
    `must be 3-20 characters of lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen, as IAM, Lambda, DynamoDB, SQS and IoT rule names allow (got ${JSON.stringify(issue.input)})`,
});

const tagValue = z
  .string()
  .max(256)
  .regex(/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u, {
    error: 'tag values may contain letters, digits, spaces and _ . : / = + - @ only',
  });

const backendSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('local'),
    /** Path of the state file, relative to the stack's output folder. @default terraform.<stack>.tfstate */
    path: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
      error: (issue) => `must be a valid S3 bucket name (got ${JSON.stringify(issue.input)})`,
    }),
    key: z.string().min(1).default('iot-dr/terraform.tfstate'),
    /** Region of the state bucket: any AWS region, not only those where IoT Core runs. */
    region: awsRegion,
    /** S3-native state locking (`use_lockfile`, Terraform >= 1.10). @default true */
    useLockfile: z.boolean().default(true),
    /** A DynamoDB lock table, for engines older than Terraform 1.10. */
    dynamodbTable: z.string().min(3).optional(),
    /** Server-side encryption of the state object. @default true */
    encrypt: z.boolean().default(true),
    kmsKeyId: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('cloud'),
    organization: z.string().min(1),
    workspace: z.string().min(1),
    /** @default app.terraform.io */
    hostname: z.string().min(1).default('app.terraform.io'),
  }),
]);

const replicationSchema = z.strictObject({
  /** `complete` copies certificates and policies with each thing; `thing-only` the registry only. */
  mode: z.enum(['complete', 'thing-only']).default('complete'),
  /**
   * `two-way`: each region captures its own registry and shadow events and applies the other's
   * (changes made in the secondary during a failover reach the primary). `one-way`: the primary is
   * captured and the secondary applies; `iot-dr failback` is then the way back.
   */
  direction: z.enum(['two-way', 'one-way']).default('two-way'),
  /** Hours an event item stays in the replication table before DynamoDB TTL removes it. */
  itemTtlHours: int(1, 720).default(48),
  /** Records the stream trigger receives per invocation. */
  batchSize: int(1, 1000).default(10),
  /** Seconds the event source mapping waits to fill a batch. */
  maximumBatchingWindowSeconds: int(0, 300).default(1),
  /** Retries of a failed batch by the event source mapping before the record goes to the DLQ. */
  maximumRetryAttempts: int(0, 10000).default(10),
  /** Oldest record age the event source mapping still processes (-1 would be infinite). */
  maximumRecordAgeSeconds: int(60, 604800).default(86400),
  /** Protect the replication table against `terraform destroy`. */
  tableDeletionProtection: z.boolean().default(true),
  /**
   * Workflow retries of a worker after a transient error (throttling, 5xx, Lambda errors), after
   * the first attempt. With `EXPRESS`, the worst case of these retries must fit in 240 s (see
   * `workflowType`).
   */
  workflowRetryMaxAttempts: int(0, 20).default(3),
  /** Seconds before the first workflow retry; each further wait doubles (then full jitter). */
  workflowRetryIntervalSeconds: int(1, 60).default(2),
  /** Cap of one workflow retry wait, so retries end in minutes, not days. */
  workflowRetryMaxDelaySeconds: int(1, 900).default(10),
  /** Days a failure record outlives its event item in the failure table (TTL), for reconciliation. */
  failureRetentionDays: int(1, 365).default(14),
  /**
   * Timeout of one worker Lambda invocation. Every AWS call of a worker ends within 9.3 s
   * (3 attempts, 1 s connection and 2 s request timeouts each).
   */
  workerTimeoutSeconds: int(10, 900).default(20),
  /**
   * Complete mode: how long after its event a thing found without any certificate is re-read
   * (every 20 s, `PrincipalPendingError`) before it is replicated without one; devices get their
   * certificate attached moments or minutes after the thing is created, and AWS IoT emits no event
   * for the attachment. Sets both the workers' window and the workflow's retry budget. 0 waits
   * not at all; at most 3600 (the default reconciliation period, which repairs anything later).
   */
  principalGraceSeconds: int(0, 3600).default(300),
  /**
   * `EXPRESS` (default): the stream trigger runs each batch (up to 40 events) as one Express
   * execution, synchronously (StartSyncExecution); a thing waiting for its certificate is handed
   * to a Standard slow lane. Cents per million events; at-least-once (a redelivered record runs
   * again: the workers write only differences). Its worst case must fit in 240 s (Express stops at
   * 300 s): (workflowRetryMaxAttempts + 1) x (workerTimeoutSeconds + 10) + the capped retry waits
   * + 94 s (slow-lane hand-off and failure record). `STANDARD`: one Standard execution per event,
   * named after it (exactly-once starts, execution history per event), $25 per million state
   * transitions, 2 per event. See docs/workflow.md.
   */
  workflowType: z.enum(['STANDARD', 'EXPRESS']).default('EXPRESS'),
});

/** Where the failover signal comes from (docs/failover.md, "Health signal"). */
export const HEALTH_CHECK_MODES = ['canary', 'api', 'both'] as const;

const healthCheckSchema = z.strictObject({
  /**
   * `canary` (default): an in-region scheduled function does the MQTT round trip and publishes a
   * CloudWatch metric; Route 53 reads the alarm on it (no public endpoint, no secret). `api`: Route 53
   * calls a public API guarded by a secret and by the checkers' address ranges. `both`: a calculated
   * Route 53 check that is unhealthy only when both signals are (the outside-in one alone cannot fail
   * a region over).
   */
  mode: z.enum(HEALTH_CHECK_MODES).default('canary'),
  /**
   * API mode: after the secret is rotated (a new SSM parameter version), the previous value is still
   * accepted for this many seconds, so that Route 53 checkers still sending it do not fail the region.
   */
  secretOverlapSeconds: int(60, 86400).default(3600),
  /** Messages published (QoS 1) and awaited per health check. */
  messageCount: int(1, 10).default(2),
  /**
   * The function's own deadline for the MQTT round trip. Route 53 fails an HTTPS check that has
   * not answered within 2 s of connecting, cold start included, so this stays well below.
   */
  deadlineMilliseconds: int(200, 1800).default(1500),
  /** Route 53 request interval: 10 (fast) or 30 (standard). Fixed when the check is created. */
  intervalSeconds: z
    .union([z.literal(10), z.literal(30)], {
      error: (issue) => `must be 10 or 30, the intervals Route 53 supports (got ${JSON.stringify(issue.input)})`,
    })
    .default(10),
  /**
   * API mode: consecutive failures before a Route 53 checker marks the endpoint unhealthy. Canary
   * mode: failed round trips within one minute that put the region's alarm into ALARM.
   */
  failureThreshold: int(1, 10).default(3),
  /** Route 53 checker regions (at least 3). */
  checkerRegions: z.array(z.enum(HEALTH_CHECKER_REGIONS)).min(3).default(['us-east-1', 'us-west-2', 'eu-west-1']),
  /**
   * API mode: optional API Gateway throttling of the health route (both or neither). Unset by
   * default: a throttle counts requests before the function checks the key, so it is what a flood
   * would exhaust; the resource policy (Route 53 checker ranges only) and the function's reserved
   * concurrency bound the traffic instead.
   */
  apiRateLimitPerSecond: int(1, 10000).optional(),
  apiBurstLimit: int(1, 5000).optional(),
  /** Moved to `alarms.email` (accepted only to give a clear error). */
  alarmEmail: z.unknown().optional().meta({ deprecated: true, description: 'moved to alarms.email' }),
});

const snsTopicArn = z
  .string()
  .regex(/^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, {
    error: (issue) =>
      `must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:pager (got ${JSON.stringify(issue.input)})`,
  });

/** Region of an SNS topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`). */
export function snsTopicRegion(arn: string): string {
  return arn.split(':')[3] ?? '';
}

const alarmsSchema = z.strictObject({
  /**
   * E-mail address subscribed to the alarm topic iot-dr creates (KMS-encrypted) in every region
   * that has alarms: primary, secondary, and us-east-1 (Route 53 health-check metrics live there).
   */
  email: z.email().optional(),
  /**
   * Existing SNS topics (a pager, a chat integration) notified by every alarm in their own region:
   * CloudWatch publishes only to topics in the alarm's region, so without `email` every region
   * with alarms needs one.
   */
  topicArns: z.array(snsTopicArn).max(4).default([]),
});

const dnsSchema = z.strictObject({
  /** Route 53 public hosted zone that holds the device hostname. */
  hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, {
    error: (issue) =>
      `must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ (got ${JSON.stringify(issue.input)})`,
  }),
  /** Fully qualified hostname devices connect to, inside the hosted zone. */
  recordName: z.string().regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$/, {
    error: (issue) => `must be a lower-case fully qualified domain name (got ${JSON.stringify(issue.input)})`,
  }),
  /** TTL of the failover records. Short, so devices move soon after a failover. */
  ttlSeconds: int(5, 3600).default(30),
  /** Create an AWS IoT domain configuration for recordName in both regions (with an ACM certificate). */
  customDomain: z.boolean().default(false),
});

const reconciliationSchema = z.strictObject({
  /** EventBridge schedule expression of the drift-repair job. */
  schedule: z
    .string()
    .regex(/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/, {
      error: (issue) => `must be an EventBridge rate(...) or cron(...) expression (got ${JSON.stringify(issue.input)})`,
    })
    .default('rate(15 minutes)'),
  /**
   * Minimum things verified per run; the next run resumes after the last one. Runs are sized to
   * the fleet (fullPassHours) up to what the quota share allows.
   */
  thingsPerRun: int(1, 100000).default(500),
  /** Target time of one full pass over the fleet. */
  fullPassHours: int(1, 720).default(24),
  /**
   * Share (percent) of the per-thing read quota (readQuotaTps) reconciliation may use, all its
   * instances together (two-way: half each). 25 % lets the default two-way deployment pass over
   * 100,000 things in 24 h with the default quota (docs/fleet-tools.md, "Sized to the fleet").
   */
  quotaSharePercent: int(1, 100).default(25),
  /** The account's ListThingPrincipals quota (TPS, default 10): the binding per-thing read. Raise it with the quota. */
  readQuotaTps: int(1, 10000).default(10),
  enabled: z.boolean().default(true),
});

export const configSchema = z
  .strictObject({
    /** JSON-schema pointer for editors; ignored. */
    $schema: z.string().optional(),
    /** Prefix of every physical resource name, and the stack name. */
    namePrefix: namePrefix.default('iot-dr'),
    primaryRegion: region.default('us-east-1'),
    secondaryRegion: region.default('us-west-2'),
    /** Tags applied to every resource in both regions (provider default_tags). */
    tags: z.record(z.string().min(1).max(128), tagValue).default({}),
    /** Retention of every log group the stack creates. */
    logRetentionDays: z
      .number()
      .refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
        error: (issue) =>
          `must be one of the retention periods CloudWatch Logs accepts: ${LOG_RETENTION_DAYS.join(', ')} (got ${JSON.stringify(issue.input)})`,
      })
      .default(30),
    backend: backendSchema.default({ type: 'local' }),
    /** Account-wide IoT settings this stack switches on in the primary region. */
    account: z
      .strictObject({
        /** Manage `aws_iot_event_configurations` (registry events). Turn off when managed elsewhere. */
        manageEventConfigurations: z.boolean().default(true),
        /** Manage `aws_iot_indexing_configuration` (fleet indexing). Turn off when managed elsewhere. */
        manageIndexingConfiguration: z.boolean().default(true),
      })
      .default({ manageEventConfigurations: true, manageIndexingConfiguration: true }),
    replication: replicationSchema.default(() => replicationSchema.parse({})),
    healthCheck: healthCheckSchema.default(() => healthCheckSchema.parse({})),
    /** Where alarms (replication failures, dead letters, unhealthy regions) send ALARM and OK. */
    alarms: alarmsSchema.default(() => alarmsSchema.parse({})),
    dns: dnsSchema.optional(),
    reconciliation: reconciliationSchema.default(() => reconciliationSchema.parse({})),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.primaryRegion === cfg.secondaryRegion) {
      ctx.addIssue({
        code: 'custom',
        path: ['secondaryRegion'],
        input: cfg.secondaryRegion,
        message: `primary and secondary regions must differ (both are "${cfg.primaryRegion}")`,
      });
    }
    if (cfg.healthCheck.alarmEmail !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthCheck', 'alarmEmail'],
        input: cfg.healthCheck.alarmEmail,
        message: 'moved to alarms.email, which now covers every alarm of the stack in every region',
      });
    }
    // Regions that have alarms: capture errors (primary), replication (secondary), Route 53 (us-east-1).
    const alarmRegions = [...new Set([cfg.primaryRegion, cfg.secondaryRegion, 'us-east-1'])];
    const covered = new Set(cfg.alarms.topicArns.map(snsTopicRegion));
    const missing = alarmRegions.filter((r) => !covered.has(r));
    if (cfg.alarms.topicArns.length > 0 && !cfg.alarms.email && missing.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms', 'topicArns'],
        input: cfg.alarms.topicArns,
        message: `needs a topic in every region that has alarms (${alarmRegions.join(', ')}): none in ${missing.join(', ')}; CloudWatch publishes only to topics in the alarm's region (or set alarms.email)`,
      });
    }
    for (const [i, arn] of cfg.alarms.topicArns.entries()) {
      if (!alarmRegions.includes(snsTopicRegion(arn))) {
        ctx.addIssue({
          code: 'custom',
          path: ['alarms', 'topicArns', i],
          input: arn,
          message: `is in ${snsTopicRegion(arn)}, where this stack has no alarms (${alarmRegions.join(', ')})`,
        });
      }
    }
    if (cfg.replication.workflowRetryMaxDelaySeconds < cfg.replication.workflowRetryIntervalSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['replication', 'workflowRetryMaxDelaySeconds'],
        input: cfg.replication.workflowRetryMaxDelaySeconds,
        message: `must be at least replication.workflowRetryIntervalSeconds (${cfg.replication.workflowRetryIntervalSeconds})`,
      });
    }
    if (cfg.replication.workflowType === 'EXPRESS') {
      // An Express execution that reaches 300 s ends TIMED_OUT without reaching its Catch. The
      // trigger would still retry the batch (then DLQ it), but a batch that can never finish
      // would only ever end in the DLQ: the worst case must fit, with a minute of room.
      const r = cfg.replication;
      const retry = {
        maxAttempts: r.workflowRetryMaxAttempts,
        intervalSeconds: r.workflowRetryIntervalSeconds,
        maxDelaySeconds: r.workflowRetryMaxDelaySeconds,
      };
      const task = taskTimeoutFor(r.workerTimeoutSeconds);
      const worst = worstCaseBatchItemSeconds(retry, task);
      if (worst > EXPRESS_BUDGET_SECONDS) {
        ctx.addIssue({
          code: 'custom',
          path: ['replication', 'workflowType'],
          input: r.workflowType,
          message:
            `an EXPRESS batch must finish within ${EXPRESS_BUDGET_SECONDS} s (Express stops at 300 s), but this configuration allows ${worst} s: ` +
            `${worstCaseTaskSeconds(retry, task)} s for a worker's retries (workflowRetryMaxAttempts ${r.workflowRetryMaxAttempts} + 1 attempts of up to workerTimeoutSeconds ${r.workerTimeoutSeconds} + 10 s, ` +
            `waits from workflowRetryIntervalSeconds ${r.workflowRetryIntervalSeconds} doubling up to workflowRetryMaxDelaySeconds ${r.workflowRetryMaxDelaySeconds}) ` +
            `+ ${worstCaseDeferSeconds()} s slow-lane hand-off + ${worstCaseRecordSeconds()} s failure record; lower those fields (defaults 3, 20, 2, 10) or use "STANDARD"`,
        });
      }
    }
    const { apiRateLimitPerSecond: rate, apiBurstLimit: burst } = cfg.healthCheck;
    if ((rate === undefined) !== (burst === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthCheck', rate === undefined ? 'apiRateLimitPerSecond' : 'apiBurstLimit'],
        input: rate ?? burst,
        message: 'healthCheck.apiRateLimitPerSecond and healthCheck.apiBurstLimit go together: set both or neither',
      });
    }
    if (rate !== undefined && burst !== undefined && burst < rate) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthCheck', 'apiBurstLimit'],
        input: burst,
        message: `must be at least healthCheck.apiRateLimitPerSecond (${rate})`,
      });
    }
    if (new Set(cfg.healthCheck.checkerRegions).size !== cfg.healthCheck.checkerRegions.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['healthCheck', 'checkerRegions'],
        input: cfg.healthCheck.checkerRegions,
        message: 'must not repeat a region',
      });
    }
  });

/** The configuration as written by a user (every field optional). */
export type IotDrConfigInput = z.input<typeof configSchema>;
/** The resolved configuration, defaults filled in. */
export type IotDrConfig = z.output<typeof configSchema>;
