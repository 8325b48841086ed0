import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { Logger } from '@aws-lambda-powertools/logger';
import { clientConfig } from '../aws';
import { ConfigurationError } from '../errors';
import { DEFAULT_PRINCIPAL_GRACE_SECONDS, MAX_PRINCIPAL_GRACE_SECONDS } from '../principal-grace';

/** `complete` copies certificates and policies with each thing; `thing-only` the registry only. */
export type ReplicationMode = 'complete' | 'thing-only';

/** What one replication step did to one resource in the secondary region. */
export interface Outcome {
  readonly kind: 'thing' | 'thingType' | 'thingGroup' | 'membership' | 'certificate' | 'policy' | 'shadow' | 'provisioningTemplate';
  readonly name: string;
  readonly action: 'created' | 'updated' | 'deleted' | 'unchanged' | 'skipped';
  readonly detail?: string;
}

/** The IoT clients of one region. */
export interface RegionClients {
  readonly iot: IoTClient;
  readonly data: IoTDataPlaneClient;
}

/** Everything a replication operation needs; create it once per process (Lambda module scope). */
export interface ReplicationContext {
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly mode: ReplicationMode;
  readonly primary: RegionClients;
  readonly secondary: RegionClients;
  /** Structured logger; `applyEvent` derives one per event carrying its id and resource. */
  readonly logger: Logger;
  /**
   * A thing whose event is younger than this, found without any principal in complete mode,
   * throws `PrincipalPendingError`: its certificate is usually attached moments later. The
   * workflow's dedicated retrier waits at least this long (both come from
   * `replication.principalGraceSeconds`).
   */
  readonly principalGraceMs: number;
  /** Page size of every listing (all pages are always read). */
  readonly pageSize: number;
  /**
   * A thing group created in the secondary gets the primary's memberships re-added at once (it
   * may be one an unfinished hierarchy repair deleted). `iot-dr copy` turns this off: it creates
   * every group before any thing exists and syncs each thing's memberships afterwards, so the adds
   * would all fail, one wasted call per membership.
   */
  readonly restoreMembershipsOnCreate: boolean;
  /** Event id written into shadow clientTokens and logs (set by `applyEvent`). */
  readonly eventId?: string;
}

export interface CreateContextOptions {
  readonly primaryRegion: string;
  readonly secondaryRegion: string;
  readonly mode: ReplicationMode;
  /** Overrides every client's endpoint (tests: moto). @default env IOT_DR_AWS_ENDPOINT */
  readonly endpoint?: string;
  readonly credentials?: AwsCredentialIdentity;
  /** @default 4 (SDK adaptive retry; the workflow retries further on RetryableError) */
  readonly maxAttempts?: number;
  /** Per-attempt request timeout of every client (throws `TimeoutError`). @default 10000 (`CLIENT_DEFAULTS`) */
  readonly requestTimeoutMs?: number;
  /** Per-attempt connection timeout of every client. @default 3000 (`CLIENT_DEFAULTS`) */
  readonly connectionTimeoutMs?: number;
  /** @default a Powertools Logger with service name `iot-dr-replication` */
  readonly logger?: Logger;
  /** 0 to {@link MAX_PRINCIPAL_GRACE_SECONDS} seconds, in milliseconds. @default 300000 (5 minutes) */
  readonly principalGraceMs?: number;
  /** Page size of listings; tests use 1 to exercise pagination. @default 250 */
  readonly pageSize?: number;
  /** See {@link ReplicationContext.restoreMembershipsOnCreate}. @default true */
  readonly restoreMembershipsOnCreate?: boolean;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Builds the clients of both regions once. Throws `ConfigurationError` on bad regions or mode. */
export function createContext(options: CreateContextOptions): ReplicationContext {
  for (const key of ['primaryRegion', 'secondaryRegion'] as const) {
    if (!REGION.test(options[key] ?? '')) {
      throw new ConfigurationError(`${key} must be an AWS region name like us-east-1 (got "${options[key]}")`);
    }
  }
  if (options.primaryRegion === options.secondaryRegion) {
    throw new ConfigurationError(`primary and secondary regions must differ (both are "${options.primaryRegion}")`);
  }
  if (options.mode !== 'complete' && options.mode !== 'thing-only') {
    throw new ConfigurationError(`mode must be "complete" or "thing-only" (got "${options.mode}")`);
  }
  const principalGraceMs = options.principalGraceMs ?? DEFAULT_PRINCIPAL_GRACE_SECONDS * 1000;
  if (!Number.isFinite(principalGraceMs) || principalGraceMs < 0 || principalGraceMs > MAX_PRINCIPAL_GRACE_SECONDS * 1000) {
    throw new ConfigurationError(
      `principalGraceMs must be from 0 to ${MAX_PRINCIPAL_GRACE_SECONDS * 1000} milliseconds (got ${options.principalGraceMs})`,
    );
  }
  const clients = (region: string): RegionClients => {
    const config = clientConfig({
      region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts,
      requestTimeoutMs: options.requestTimeoutMs,
      connectionTimeoutMs: options.connectionTimeoutMs,
    });
    return { iot: new IoTClient(config), data: new IoTDataPlaneClient(config) };
  };
  return {
    primaryRegion: options.primaryRegion,
    secondaryRegion: options.secondaryRegion,
    mode: options.mode,
    primary: clients(options.primaryRegion),
    secondary: clients(options.secondaryRegion),
    logger: options.logger ?? new Logger({ serviceName: 'iot-dr-replication' }),
    principalGraceMs,
    pageSize: options.pageSize ?? 250,
    restoreMembershipsOnCreate: options.restoreMembershipsOnCreate ?? true,
  };
}
