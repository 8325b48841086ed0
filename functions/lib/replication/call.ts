import { isDeepStrictEqual } from 'node:util';
import { awsErrorName, classifyAwsError, isNotFound } from '../aws';
import { RetryableError } from '../errors';
import type { ReplicationContext } from './context';

/** Runs one AWS call; failures become `RetryableError` (transient) or `ReplicationError`. */
export async function call<T>(ctx: ReplicationContext, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw classifyAwsError(error, what, { eventId: ctx.eventId });
  }
}

/**
 * Like `call`, but `undefined` when AWS answers ResourceNotFound. Errors named in `settling`
 * (a state AWS is still propagating, such as a detach) become `RetryableError`.
 */
export async function find<T>(ctx: ReplicationContext, what: string, fn: () => Promise<T>, settling: readonly string[] = []): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (settling.includes(awsErrorName(error))) {
      throw new RetryableError(`${what}: ${awsErrorName(error)} (still settling): ${(error as Error).message}`, { cause: error, context: { eventId: ctx.eventId } });
    }
    throw classifyAwsError(error, what, { eventId: ctx.eventId });
  }
}

/** Upper bound on pages read by one listing: a runaway nextToken loop must end. */
export const MAX_PAGES = 10_000;

/** Collects every page of a listing. `fetch` returns one page's items and the next token. */
export async function all<T>(
  ctx: ReplicationContext,
  what: string,
  fetch: (token: string | undefined) => Promise<{ items?: readonly T[]; next?: string }>,
): Promise<T[]> {
  const items: T[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await call(ctx, what, () => fetch(token));
    items.push(...(result.items ?? []));
    token = result.next || undefined;
    if (!token) return items;
  }
  throw classifyAwsError(new Error(`more than ${MAX_PAGES} pages`), what, { eventId: ctx.eventId });
}

/** Same attributes (string maps), ignoring key order. */
export function sameMap(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  return isDeepStrictEqual(a ?? {}, b ?? {});
}

/** Deep equality of JSON values (key order ignored, array order kept). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(a, b);
}

/** Like `all`, but `undefined` when AWS answers ResourceNotFound (the listed parent is gone). */
export async function findAll<T>(
  ctx: ReplicationContext,
  what: string,
  fetch: (token: string | undefined) => Promise<{ items?: readonly T[]; next?: string }>,
): Promise<T[] | undefined> {
  try {
    return await all(ctx, what, fetch);
  } catch (error) {
    if (isNotFound((error as { cause?: unknown }).cause)) return undefined;
    throw error;
  }
}
