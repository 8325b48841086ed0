/** Bounded concurrency for many independent API calls. */
import { PromisePool } from '@supercharge/promise-pool';

/**
 * Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * The first failure rejects the whole map (the calls in flight finish, no new one starts).
 * Backed by `@supercharge/promise-pool` (CommonJS, no dependencies: bundles as is with esbuild).
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const { results } = await PromisePool.withConcurrency(Math.max(1, limit))
    .for(items)
    .useCorrespondingResults()
    .handleError((error) => {
      throw error;
    })
    .process((item, index) => fn(item, index));
  return results as R[];
}
