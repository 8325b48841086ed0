/**
 * The maintained libraries that replaced hand-written code: bounded concurrency
 * (@supercharge/promise-pool), AWS error classification (@smithy/core/retry), SDK paginators
 * behind `all`, and the checkpoint's atomic write (write-file-atomic).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Checkpoint } from '../../cli/checkpoint';
import { isTransient } from '../../functions/lib/aws';
import { ReplicationError, RetryableError } from '../../functions/lib/errors';
import { mapLimit } from '../../functions/lib/fleet/pool';
import { all, findAll, MAX_PAGES } from '../../functions/lib/replication/call';
import type { ReplicationContext } from '../../functions/lib/replication/context';

const ctx = { eventId: 'e-1' } as unknown as ReplicationContext;
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const sdkError = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });

describe('mapLimit (@supercharge/promise-pool)', () => {
  it('Given 20 items and limit 3, When mapped, Then results keep the input order and at most 3 run at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit(
      Array.from({ length: 20 }, (_, i) => i),
      3,
      async (n, i) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, (n * 7) % 5));
        inFlight--;
        return `${n}:${i}`;
      },
    );
    expect(out).toEqual(Array.from({ length: 20 }, (_, i) => `${i}:${i}`));
    expect(peak).toBe(3);
  });

  it('Given a failing item, When mapped, Then the map rejects with that error and starts no further item', async () => {
    const started: number[] = [];
    const run = mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n) => {
      started.push(n);
      await new Promise((r) => setImmediate(r));
      if (n === 1) throw new Error('boom 1');
      return n;
    });
    await expect(run).rejects.toThrow('boom 1');
    expect(started.length).toBeLessThan(8);
  });

  it('Given no items, When mapped, Then it resolves to an empty list', async () => {
    await expect(mapLimit([], 4, async () => 1)).resolves.toEqual([]);
  });
});

describe('isTransient (@smithy/core/retry classification)', () => {
  it.each([
    ['ThrottlingException', true, sdkError('ThrottlingException', meta(400))],
    ['HTTP 429', true, sdkError('TooManyRequestsException', meta(429))],
    ['LimitExceededException', true, sdkError('LimitExceededException', meta(410))],
    ['HTTP 503', true, sdkError('ServiceUnavailableException', meta(503))],
    ['any other 5xx', true, sdkError('InternalFailureException', meta(500))],
    ['connection reset', true, Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    [
      'a network error as cause',
      true,
      new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'EAI_AGAIN' }) }),
    ],
    ['SDK TimeoutError', true, sdkError('TimeoutError')],
    ['modelled retryable', true, sdkError('SomethingException', { $retryable: {}, ...meta(400) })],
    ['UnauthorizedException 401', false, sdkError('UnauthorizedException', meta(401))],
    ['ResourceNotFoundException 404', false, sdkError('ResourceNotFoundException', meta(404))],
    ['InvalidRequestException 400', false, sdkError('InvalidRequestException', meta(400))],
    ['AbortError', false, sdkError('AbortError')],
    ['a string', false, 'ThrottlingException'],
  ] as const)('Given %s, Then transient is %s', (_label, expected, error) => {
    expect(isTransient(error)).toBe(expected);
  });
});

describe('all / findAll over SDK paginators', () => {
  async function* pages<P>(list: P[], failAt?: { index: number; error: unknown }) {
    for (const [i, page] of list.entries()) {
      if (failAt && failAt.index === i) throw failAt.error;
      yield page;
    }
  }

  it('Given three pages, When collected, Then every item comes back in order', async () => {
    const got = await all(ctx, 'List', pages([{ xs: [1, 2] }, { xs: undefined }, { xs: [3] }]), (p) => p.xs);
    expect(got).toEqual([1, 2, 3]);
  });

  it('Given a throttled second page, When collected, Then it fails as RetryableError naming the call', async () => {
    const error = await all(
      ctx,
      'ListThings',
      pages([{ xs: [1] }, { xs: [2] }], { index: 1, error: sdkError('ThrottlingException', meta(400)) }),
      (p) => p.xs,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toContain('ListThings');
  });

  it('Given a listing whose parent is gone, When findAll, Then undefined', async () => {
    const gone = sdkError('ResourceNotFoundException', meta(404));
    await expect(
      findAll(ctx, 'List', pages([{ xs: [1] }], { index: 0, error: gone }), (p) => p.xs),
    ).resolves.toBeUndefined();
  });

  it('Given a paginator that never ends, When collected, Then it stops after MAX_PAGES with a permanent error', async () => {
    let served = 0;
    async function* endless() {
      for (;;) {
        served++;
        yield { xs: [served] };
      }
    }
    const error = await all(ctx, 'List', endless(), (p) => p.xs).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect((error as Error).message).toContain(`more than ${MAX_PAGES} pages`);
    expect(served).toBe(MAX_PAGES + 1);
  });
});

describe('Checkpoint save (write-file-atomic)', () => {
  it('Given saves in a row, When read back, Then the file is whole JSON and no temporary file is left', () => {
    const dir = mkdtempSync(join(tmpdir(), 'iot-dr-ckpt-'));
    const file = join(dir, 'ckpt.json');
    const identity = {
      primaryRegion: 'us-east-1',
      secondaryRegion: 'us-west-2',
      mode: 'complete',
      prefix: null,
      query: null,
    };
    const checkpoint = Checkpoint.open(file, identity);
    for (let i = 0; i < 5; i++) {
      checkpoint.markDone(`thing-${i}`);
      checkpoint.save();
    }
    expect(readdirSync(dir)).toEqual(['ckpt.json']);
    expect(JSON.parse(readFileSync(file, 'utf8')).done).toEqual([
      'thing-0',
      'thing-1',
      'thing-2',
      'thing-3',
      'thing-4',
    ]);
    expect([...Checkpoint.open(file, identity).done]).toHaveLength(5);
  });
});
