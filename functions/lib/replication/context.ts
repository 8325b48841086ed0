import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { Logger } from '@aws-lambda-powertools/logger';
import { clientConfig } from '../aws';
import { ConfigurationError } from '../errors';
import type { ChangeLog } from './change-log';
import { DEFAULT_PRINCIPAL_GRACE_SECONDS, MAX_PRINCIPAL_GRACE_SECONDS } from '../principal-grace';

/** `complete` copies certificates and policies with each thing; `thing-only` the registry only. */
export type ReplicationMode = 'complete' | 'thing-only';

/** What one replication step did to one resource in the target region. */
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

/**
 * How a difference between origin and target is resolved (docs/replication.md, "Conflict rule"):
 * - `mirror`: the target becomes the origin's current state (one-way replication, `iot-dr copy`,
 *   reconciliation): the target is a replica and never has changes of its own.
 * - `merge`: both regions take changes (two-way replication, `iot-dr failback`). Shadow fields:
 *   the newer per-field metadata timestamp wins; a field or shadow only the target has is kept
 *   unless the origin removed it later (the event's timestamp) or it predates `staleBefore`.
 */
export type ConflictPolicy = 'mirror' | 'merge';

/**
 * Everything a replication operation needs; create it once per process (Lambda module scope).
 * Every operation reads the ORIGIN region's current state and writes only THIS (target) region:
 * the primary -> secondary direction and, in two-way mode, the secondary -> primary one are the
 * same code with the two regions swapped.
 */
export interface ReplicationContext {
  /** The region whose state is read (where the event happened). */
  readonly originRegion: string;
  /** The region written (where the worker runs). */
  readonly targetRegion: string;
  readonly mode: ReplicationMode;
  readonly origin: RegionClients;
  readonly target: RegionClients;
  /** See {@link ConflictPolicy}. */
  readonly conflicts: ConflictPolicy;
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
   * A thing group created in the target gets the origin's memberships re-added at once (it
   * may be one an unfinished hierarchy repair deleted). `iot-dr copy` turns this off: it creates
   * every group before any thing exists and syncs each thing's memberships afterwards, so the adds
   * would all fail, one wasted call per membership.
   */
  readonly restoreMembershipsOnCreate: boolean;
  /** Event id written into shadow clientTokens and logs (set by `applyEvent`). */
  readonly eventId?: string;
  /**
   * Policy `merge`: the origin DELETED the resource being synced (set by `applyEvent` for a
   * DELETED registry event; `iot-dr failback` sets it for the registry, whose reference after a
   * failover is the secondary). Without it, a thing, type or group absent in the origin but
   * present in the target is the target's own (its event creates it in the origin) and is kept.
   */
  readonly originDeleted?: boolean;
  /**
   * Policy `merge`: the replication table's bookkeeping (delete events, registry changes, shadow
   * removals of each region) that lets a change in the target beat an older origin change applied
   * after it. @default none (no lookups)
   */
  readonly changes?: ChangeLog;
}

/** Whether a registry resource absent in the origin is deleted from the target (see `originDeleted`). */
export function absentMeansDeleted(ctx: ReplicationContext): boolean {
  return ctx.conflicts === 'mirror' || ctx.originDeleted === true;
}

/** The outcome of a registry resource kept in the target because the origin's absence is no delete. */
export function keptTargetOnly(kind: Outcome['kind'], name: string): Outcome {
  return { kind, name, action: 'unchanged', detail: 'absent in the origin without a delete event: kept (the target\'s own, replicated by its own event)' };
}

export interface CreateContextOptions {
  /** The region read. */
  readonly originRegion: string;
  /** The region written. */
  readonly targetRegion: string;
  readonly mode: ReplicationMode;
  /** @default 'mirror' */
  readonly conflicts?: ConflictPolicy;
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
  /** See {@link ReplicationContext.changes}. */
  readonly changes?: ChangeLog;
  /** See {@link ReplicationContext.restoreMembershipsOnCreate}. @default true */
  readonly restoreMembershipsOnCreate?: boolean;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Builds the clients of both regions once. Throws `ConfigurationError` on bad regions or mode. */
export function createContext(options: CreateContextOptions): ReplicationContext {
  for (const key of ['originRegion', 'targetRegion'] as const) {
    if (!REGION.test(options[key] ?? '')) {
      throw new ConfigurationError(`${key} must be an AWS region name like us-east-1 (got "${options[key]}")`);
    }
  }
  if (options.originRegion === options.targetRegion) {
    throw new ConfigurationError(`origin and target regions must differ (both are "${options.originRegion}")`);
  }
  const conflicts = options.conflicts ?? 'mirror';
  if (conflicts !== 'mirror' && conflicts !== 'merge') {
    throw new ConfigurationError(`conflicts must be "mirror" or "merge" (got "${conflicts}")`);
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
    originRegion: options.originRegion,
    targetRegion: options.targetRegion,
    mode: options.mode,
    origin: clients(options.originRegion),
    target: clients(options.targetRegion),
    conflicts,
    ...(options.changes ? { changes: options.changes } : {}),
    logger: options.logger ?? new Logger({ serviceName: 'iot-dr-replication' }),
    principalGraceMs,
    pageSize: options.pageSize ?? 250,
    restoreMembershipsOnCreate: options.restoreMembershipsOnCreate ?? true,
  };
}
