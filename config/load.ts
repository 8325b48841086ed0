/**
 * Reads the configuration: an optional JSON file, then environment overrides, then validation.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configSchema, type IotDrConfig } from './schema';

/** The default configuration file, looked up in the working directory. */
export const DEFAULT_CONFIG_FILE = 'iot-dr.config.json';

/** A configuration that cannot be used; `problems` has one line per field. */
export class ConfigError extends Error {
  public readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[], options?: { cause?: unknown }) {
    super(`invalid iot-dr configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`, options);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Environment variables that override one field each. Values are parsed as JSON when they parse
 * (numbers, booleans), and taken as strings otherwise. `IOT_DR_CONFIG_JSON` merges a whole JSON
 * object over the file.
 */
export const ENV_OVERRIDES: Readonly<Record<string, readonly string[]>> = {
  IOT_DR_NAME_PREFIX: ['namePrefix'],
  IOT_DR_PRIMARY_REGION: ['primaryRegion'],
  IOT_DR_SECONDARY_REGION: ['secondaryRegion'],
  IOT_DR_LOG_RETENTION_DAYS: ['logRetentionDays'],
  IOT_DR_REPLICATION_MODE: ['replication', 'mode'],
  IOT_DR_REPLICATION_DIRECTION: ['replication', 'direction'],
  IOT_DR_ITEM_TTL_HOURS: ['replication', 'itemTtlHours'],
  IOT_DR_HEALTH_CHECK_MODE: ['healthCheck', 'mode'],
  IOT_DR_HEALTH_CHECK_INTERVAL_SECONDS: ['healthCheck', 'intervalSeconds'],
  IOT_DR_HEALTH_CHECK_FAILURE_THRESHOLD: ['healthCheck', 'failureThreshold'],
  IOT_DR_DNS_HOSTED_ZONE_ID: ['dns', 'hostedZoneId'],
  IOT_DR_DNS_RECORD_NAME: ['dns', 'recordName'],
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function merge(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function parseEnvValue(raw: string): Json {
  try {
    const v = JSON.parse(raw) as Json;
    return typeof v === 'number' || typeof v === 'boolean' ? v : raw;
  } catch {
    return raw;
  }
}

function setPath(obj: JsonObject, path: readonly string[], value: Json): void {
  let node = obj;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = node[key] = isObject(next) ? { ...next } : {};
  }
  node[path[path.length - 1]] = value;
}

function describePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

export interface LoadConfigOptions {
  /** A configuration file; when omitted `IOT_DR_CONFIG`, then ./iot-dr.config.json if it exists. */
  readonly file?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default process.cwd() */
  readonly cwd?: string;
}

/** Parses and validates a configuration object (no file, no environment). */
export function parseConfig(input: unknown, source = 'configuration'): IotDrConfig {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? ` in ${describePath(issue.path)}` : '';
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}: remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling`;
    }
    const shown = issue.input === undefined ? '' : JSON.stringify(issue.input);
    const got = issue.message.includes('(got') || shown === '' || issue.message.includes(shown) ? '' : ` (got ${shown})`;
    return `${describePath(issue.path)}: ${issue.message}${got}`;
  });
  throw new ConfigError(source, problems);
}

/** Loads the configuration from a file (optional) and the environment, validated. */
export function loadConfig(options: LoadConfigOptions = {}): IotDrConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.IOT_DR_CONFIG;
  const file = explicit ? resolve(cwd, explicit) : resolve(cwd, DEFAULT_CONFIG_FILE);
  const sources: string[] = [];
  let data: JsonObject = {};

  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`], { cause: err });
    }
    if (!isObject(parsed)) throw new ConfigError(file, ['(top level): must be a JSON object']);
    data = parsed;
    sources.push(file);
  } else if (explicit) {
    throw new ConfigError(file, ['file not found (IOT_DR_CONFIG or --config names a file that does not exist)']);
  }

  if (env.IOT_DR_CONFIG_JSON) {
    let over: unknown;
    try {
      over = JSON.parse(env.IOT_DR_CONFIG_JSON);
    } catch (err) {
      throw new ConfigError('IOT_DR_CONFIG_JSON', [`not valid JSON: ${(err as Error).message}`], { cause: err });
    }
    if (!isObject(over)) throw new ConfigError('IOT_DR_CONFIG_JSON', ['(top level): must be a JSON object']);
    data = merge(data, over);
    sources.push('IOT_DR_CONFIG_JSON');
  }

  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    setPath(data, path, parseEnvValue(raw));
    sources.push(name);
  }

  return parseConfig(data, sources.length ? sources.join(' + ') : 'built-in defaults');
}
