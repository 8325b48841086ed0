/**
 * Turns the shared options (configuration file, endpoint, rate limit) into what a command needs:
 * the validated configuration and a replication context whose clients are rate limited.
 */
import { ConfigError, loadConfig } from '../config/load';
import type { IotDrConfig } from '../config/schema';
import type { RegionClients } from '../functions/lib/fleet';
import { createContext, type ReplicationContext } from '../functions/lib/replication';
import { UsageError } from './errors';
import type { CliIo } from './io';
import { RateLimiter } from './rate-limits';

/** Options every AWS-facing command accepts. */
export interface GlobalOptions {
  readonly config?: string;
  /** Every AWS call goes to this endpoint (an emulator such as moto). */
  readonly endpoint?: string;
  /** Percentage of each documented API quota to use; 0 disables the client-side limit. */
  readonly rateLimit: number;
  /** The account's raised quotas, by operation (TPS). */
  readonly quota?: Readonly<Record<string, number>>;
}

/** Loads the configuration; a bad one is a usage error naming each field and rule. */
export function readConfig(file: string | undefined, io: CliIo): IotDrConfig {
  try {
    return loadConfig({ file, env: io.env, cwd: io.cwd });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message, { cause: err });
    throw err;
  }
}

/** A run's configuration, replication context and rate limiter. */
export interface RunContext {
  readonly config: IotDrConfig;
  readonly ctx: ReplicationContext;
  readonly primary: RegionClients;
  readonly secondary: RegionClients;
  readonly limiter: RateLimiter;
}

/**
 * Builds the replication context (library `createContext`: adaptive retries, endpoint override)
 * and puts the client-side rate limiter on each of its clients.
 */
export function runContext(options: GlobalOptions, io: CliIo): RunContext {
  const config = readConfig(options.config, io);
  const endpoint = options.endpoint ?? io.env.IOT_DR_AWS_ENDPOINT;
  const ctx = createContext({
    originRegion: config.primaryRegion,
    targetRegion: config.secondaryRegion,
    mode: config.replication.mode,
    ...(endpoint ? { endpoint } : {}),
    // copy creates all groups before any thing and then syncs each thing's memberships
    restoreMembershipsOnCreate: false,
  });
  const limiter = new RateLimiter(options.rateLimit, options.quota ?? {});
  for (const side of [ctx.origin, ctx.target]) {
    limiter.attach(side.iot as never);
    limiter.attach(side.data as never);
  }
  return {
    config,
    ctx,
    limiter,
    primary: { region: ctx.originRegion, iot: ctx.origin.iot, data: ctx.origin.data },
    secondary: { region: ctx.targetRegion, iot: ctx.target.iot, data: ctx.target.data },
  };
}
