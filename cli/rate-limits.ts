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
  // Fleet indexing belongs to AWS IoT Device Management, whose quotas (adjustable) are listed in
  // https://docs.aws.amazon.com/general/latest/gr/iot_device_management.html (AWS re:Post points
  // there for SearchIndex throttling). Its default TPS was not in the sources this table was
  // checked against, so both are set explicitly at the conservative 10 TPS used for unconfirmed
  // operations; an account with a higher quota says so with `--quota SearchIndex=N`.
  SearchIndex: 10,
  GetIndexingConfiguration: 10,
};

/** Quota assumed for an operation missing from the table (certificates, policies, shadows, search). */
export const DEFAULT_QUOTA_TPS = 10;

/** TPS the client allows for an operation at `percent` of its quota (at least 1). */
export function allowedTps(operation: string, percent: number, quotas: Readonly<Record<string, number>> = {}): number {
  const quota = quotas[operation] ?? IOT_API_QUOTAS_TPS[operation] ?? DEFAULT_QUOTA_TPS;
  return Math.max(1, Math.floor((quota * percent) / 100));
}

/** A token bucket: `capacity` tokens, refilled continuously at `ratePerSecond` (times in ms). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = Math.max(this.last, now);
  }

  /** Takes one token at time `now`; false when the bucket is empty. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds from `now` until a token is available (0 when one is). */
  msUntilToken(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond);
  }
}

/**
 * Calls of one (region, operation), first in first out, paced by a token bucket: `tps` per second
 * on average, and up to `burst` at once after a pause.
 *
 * Why not Bottleneck (used before): its `minTime` spacing loses every slot a call arrives late for
 * (a copy sends each thing through a dozen operations quoted at 10 TPS, one after the other, so
 * slots were lost all along the chain: 61-69 % of the quota ceiling), and its reservoir refills
 * on a heartbeat, in steps (35 %). A bucket lets a late call catch up within `burst`, like AWS's
 * own limiter; with `burst` half a second of quota the copy reached 97 % of the ceiling with no
 * throttling (docs/fleet-tools.md).
 */
export class PacedQueue {
  private readonly bucket: TokenBucket;
  private readonly waiting: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    tps: number,
    burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(tps, burst, now());
  }

  schedule<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      this.drain();
    }).then(fn);
  }

  /** Calls waiting for a token. */
  get pending(): number {
    return this.waiting.length;
  }

  private drain(): void {
    while (this.waiting.length && this.bucket.take(this.now())) this.waiting.shift()?.();
    if (this.waiting.length && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.drain();
      }, Math.max(1, this.bucket.msUntilToken(this.now())));
    }
  }

  /** Stops the timer; waiting calls are not started. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Burst of a client-side bucket: half a second of the allowed TPS (at least 1). */
export const burstOf = (tps: number) => Math.max(1, Math.floor(tps / 2));

/** One paced queue per operation, shared by every client of a run (quotas are per account and region). */
export class RateLimiter {
  private readonly limiters = new Map<string, PacedQueue>();
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
      const tps = allowedTps(operation, this.percent, this.quotas);
      limiter = new PacedQueue(tps, burstOf(tps));
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
    for (const limiter of this.limiters.values()) limiter.stop();
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
