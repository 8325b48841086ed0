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

/** Upper bound on pages read by one listing: a runaway pagination must end. */
export const MAX_PAGES = 10_000;

/**
 * Collects every page of a listing from an SDK paginator (`paginateListThingPrincipals(...)`,
 * which follows `nextToken`/`marker` itself); `items` picks a page's list. A failure on any page
 * becomes `RetryableError` or `ReplicationError` like `call`.
 */
export async function all<P, T>(
  ctx: ReplicationContext,
  what: string,
  pages: AsyncIterable<P>,
  items: (page: P) => readonly T[] | undefined,
): Promise<T[]> {
  const out: T[] = [];
  let count = 0;
  try {
    for await (const page of pages) {
      if (++count > MAX_PAGES) throw new Error(`more than ${MAX_PAGES} pages`);
      out.push(...(items(page) ?? []));
    }
  } catch (error) {
    throw classifyAwsError(error, what, { eventId: ctx.eventId });
  }
  return out;
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
export async function findAll<P, T>(
  ctx: ReplicationContext,
  what: string,
  pages: AsyncIterable<P>,
  items: (page: P) => readonly T[] | undefined,
): Promise<T[] | undefined> {
  try {
    return await all(ctx, what, pages, items);
  } catch (error) {
    if (isNotFound((error as { cause?: unknown }).cause)) return undefined;
    throw error;
  }
}
