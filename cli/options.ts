/** Parsers for option values: each rejects a bad value with the option's name and the rule. */
import { InvalidArgumentError } from 'commander';

/** A whole number in [min, max]. */
export function intOption(min: number, max: number) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim()))
      throw new InvalidArgumentError(`must be a whole number between ${min} and ${max} (got "${raw}").`);
    const n = Number(raw);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max} (got ${n}).`);
    return n;
  };
}

/** An `http(s)://host[:port]` URL. */
export function urlOption(raw: string): string {
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    return raw.replace(/\/$/, '');
  } catch {
    throw new InvalidArgumentError(`must be an http:// or https:// URL (got "${raw}").`);
  }
}

/** `Operation=TPS` (repeatable): the account's own quota of an API operation. */
export function quotaOption(raw: string, previous: Record<string, number> = {}): Record<string, number> {
  const m = /^([A-Z][A-Za-z0-9]+)=(\d+(?:\.\d+)?)$/.exec(raw.trim());
  if (!m || Number(m[2]) <= 0) {
    throw new InvalidArgumentError(
      `must be Operation=TPS with an AWS IoT API operation name and a positive number, e.g. ListThingPrincipals=50 (got "${raw}").`,
    );
  }
  return { ...previous, [m[1]]: Number(m[2]) };
}

/** A thing-name prefix: the characters thing names allow. */
export function prefixOption(raw: string): string {
  if (!/^[a-zA-Z0-9:_-]{1,128}$/.test(raw)) {
    throw new InvalidArgumentError(
      `must be 1-128 of the characters thing names allow (letters, digits, : _ -) (got "${raw}").`,
    );
  }
  return raw;
}
