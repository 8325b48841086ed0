/**
 * Client-side rate limits per API operation, so a bulk copy stays under AWS IoT's per-account
 * API quotas instead of leaning on throttling and retries.
 *
 * Quotas (transactions per second, account default) are the Service Quotas defaults of the
 * `iotcore` service ("<Operation> API TPS", e.g. L-0EF0F5EE DescribeThing = 350,
 * L-64CBACAC CreateThing = 100, L-57AAC135 ListThings = 10, L-FC3EF4D9 ListThingPrincipals = 10);
 * see https://docs.aws.amazon.com/general/latest/gr/iot-core.html#limits_iot. Operations whose
 * quota we could not confirm get a conservative 10 TPS. The CLI uses a share of each quota
 * (`--rate-limit`, default 80 %), leaving room for the devices and the replication workers that
 * use the same account quotas at the same time.
 */
import Bottleneck from 'bottleneck';

/** Documented per-account TPS quotas, by SDK operation name. */
export const IOT_API_QUOTAS_TPS: Readonly<Record<string, number>> = {
  // Registry: Service Quotas defaults (iotcore "... API TPS").
  AddThingToThingGroup: 100,
  AttachThingPrincipal: 100,
  CreateThing: 100,
  CreateThingGroup: 25,
  CreateThingType: 15,
  DeleteThing: 100,
  DeleteThingGroup: 15,
  DeleteThingType: 15,
  DeprecateThingType: 15,
  DescribeThing: 350,
  DescribeThingGroup: 100,
  DescribeThingType: 100,
  DetachThingPrincipal: 100,
  ListPrincipalThings: 10,
  ListThingGroups: 10,
  ListThingGroupsForThing: 100,
  ListThingPrincipals: 10,
  ListThingTypes: 10,
  ListThings: 10,
  ListThingsInThingGroup: 25,
  RemoveThingFromThingGroup: 100,
  UpdateThing: 100,
  UpdateThingGroup: 15,
  ListTagsForResource: 10,
  TagResource: 10,
  UntagResource: 10,
};

/** Quota assumed for an operation missing from the table (certificates, policies, shadows, search). */
export const DEFAULT_QUOTA_TPS = 10;

/** TPS the client allows for an operation at `percent` of its quota (at least 1). */
export function allowedTps(operation: string, percent: number, quotas: Readonly<Record<string, number>> = {}): number {
  const quota = quotas[operation] ?? IOT_API_QUOTAS_TPS[operation] ?? DEFAULT_QUOTA_TPS;
  return Math.max(1, Math.floor((quota * percent) / 100));
}

/** One Bottleneck per operation, shared by every client of a run (quotas are per account and region). */
export class RateLimiter {
  private readonly limiters = new Map<string, Bottleneck>();
  /** Calls made, by operation (for the summary). */
  public readonly calls = new Map<string, number>();
  /** Calls made, by `region:Operation` (quotas are per region: what binds a copy). */
  public readonly callsByKey = new Map<string, number>();

  /**
   * @param percent share of each quota to use; 0 disables limiting (emulators, benchmarks).
   * @param quotas the account's own quotas where they were raised (`--quota Operation=TPS`).
   */
  constructor(
    private readonly percent: number,
    private readonly quotas: Readonly<Record<string, number>> = {},
  ) {}

  schedule<T>(key: string, operation: string, fn: () => Promise<T>): Promise<T> {
    this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
    this.callsByKey.set(key, (this.callsByKey.get(key) ?? 0) + 1);
    if (this.percent <= 0) return fn();
    let limiter = this.limiters.get(key);
    if (!limiter) {
      limiter = new Bottleneck({ minTime: Math.ceil(1000 / allowedTps(operation, this.percent, this.quotas)) });
      this.limiters.set(key, limiter);
    }
    return limiter.schedule(fn);
  }

  /**
   * Adds the limiter to an SDK client as middleware, keyed by region and operation. It sits after
   * the SDK's retry middleware and just before signing, so every attempt (retries included) is
   * paced and leaves at once: a request held before the retry loop could reach AWS in a bunch
   * with retries, be throttled, and make adaptive retry slow down the whole client.
   */
  attach(client: {
    middlewareStack: { addRelativeTo: (mw: unknown, opts: unknown) => void };
    config: { region: unknown };
  }): void {
    const regionOf = client.config.region;
    client.middlewareStack.addRelativeTo(
      (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
        const region = typeof regionOf === 'function' ? await (regionOf as () => Promise<string>)() : String(regionOf);
        return this.schedule(`${region}:${operation}`, operation, () => next(args));
      },
      { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'iotDrRateLimit', override: true },
    );
  }

  async stop(): Promise<void> {
    await Promise.all([...this.limiters.values()].map((l) => l.disconnect()));
  }
}

/** The operation whose quota bounds a run, and the throughput that quota allows. */
export interface QuotaCeiling {
  /** Things per second the binding quota allows (at `percent` of it). */
  readonly thingsPerSecond: number;
  readonly region: string;
  readonly operation: string;
  /** Calls of that operation per thing in that region, over the whole run. */
  readonly callsPerThing: number;
  /** TPS allowed for it (its quota at `percent`). */
  readonly tps: number;
}

/**
 * The fastest a run of `things` things could go under the quotas: every (region, operation) needs
 * at least calls / TPS seconds, so the one needing the longest binds, and the ceiling is `things`
 * over that time. `percent` 0 (no client limit) means the whole quota.
 */
export function quotaCeiling(
  callsByKey: Readonly<Record<string, number>>,
  things: number,
  percent: number,
  quotas: Readonly<Record<string, number>> = {},
): QuotaCeiling | undefined {
  let worst: QuotaCeiling | undefined;
  let worstSeconds = -1;
  for (const [key, calls] of Object.entries(callsByKey)) {
    const [region, operation] = key.split(':');
    if (!operation || things <= 0) continue;
    const tps = allowedTps(operation, percent > 0 ? percent : 100, quotas);
    const seconds = calls / tps;
    if (seconds > worstSeconds) {
      worstSeconds = seconds;
      worst = { thingsPerSecond: things / seconds, region, operation, callsPerThing: calls / things, tps };
    }
  }
  return worst;
}
