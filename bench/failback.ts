// Benchmark: `iot-dr failback` after an outage during which N things changed in the secondary
// (each: a reported shadow value and an attribute), on a one-way deployment on moto server. Both
// regions start with the same fleet; the failback brings the primary up to date and verifies.
// Prints the failback's wall time, its phases and things per second.
// Run: npm run bench:failback -- [--things 1000] [--concurrency 16]
// Not a test. `--rate-limit 0` measures the tool and moto, not AWS's quotas (with AWS quotas the
// per-operation limits of docs/fleet-tools.md apply: ~8 things/s in complete mode).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { UpdateThingCommand } from '@aws-sdk/client-iot';
import type { FailbackReport } from '../cli/commands/failback';
import { run } from '../cli/main';
import { createThing, twoRegions, updateShadow } from '../__tests__/support/fleet';
import { FAKE_CREDENTIALS, startMoto } from '../__tests__/support/moto';

const { values } = parseArgs({
  options: {
    things: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
  },
});
const things = Number(values.things);

async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** moto answers an occasional HTTP 500 under concurrent load: seeding retries. */
async function retried(work: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await work();
      return;
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

async function main(): Promise<void> {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  const moto = await startMoto();
  const dir = mkdtempSync(join(tmpdir(), 'iot-dr-bench-'));
  try {
    const { primary, secondary } = twoRegions(moto.endpoint);
    const name = (i: number) => `fb-${String(i).padStart(6, '0')}`;
    const t0 = Date.now();
    // The fleet as replication left it before the outage: the same things and shadows in both regions.
    await pool(things, 8, async (i) => {
      for (const side of [primary, secondary]) {
        await retried(() => createThing(side, name(i), { attributes: { site: 'a', rev: '1' } }));
        await retried(() => updateShadow(side, name(i), '', { reported: { temp: 20 } }));
      }
    });
    await new Promise((r) => setTimeout(r, 1100)); // metadata timestamps are whole seconds
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    // The outage: every thing changes in the secondary.
    await pool(things, 8, async (i) => {
      await retried(() => updateShadow(secondary, name(i), '', { reported: { temp: 30 + (i % 5) } }));
      await retried(() =>
        secondary.iot.send(new UpdateThingCommand({ thingName: name(i), attributePayload: { attributes: { site: 'a', rev: '2' }, merge: false } })),
      );
    });
    const seeded = (Date.now() - t0) / 1000;

    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c));
    stderr.on('data', (c: Buffer) => process.stderr.write(c));
    const env = { ...process.env, IOT_DR_CONFIG: '', IOT_DR_CONFIG_JSON: JSON.stringify({ replication: { direction: 'one-way', mode: 'thing-only' } }) };
    const started = Date.now();
    const code = await run(
      ['failback', '--endpoint', moto.endpoint, '--rate-limit', '0', '--since', since, '--concurrency', String(values.concurrency), '--json'],
      { stdout, stderr, env, cwd: dir },
    );
    const seconds = (Date.now() - started) / 1000;
    const report = JSON.parse(out) as FailbackReport;
    console.log(
      JSON.stringify(
        {
          things,
          seedSeconds: Math.round(seeded * 10) / 10,
          failbackSeconds: Math.round(seconds * 10) / 10,
          thingsPerSecond: Math.round((things / seconds) * 10) / 10,
          differencesBefore: report.changes.length,
          changedInSecondary: report.changes.filter((c) => c.changedIn === 'secondary').length,
          outcomes: report.outcomes,
          failures: report.failures.length,
          remaining: report.remaining.length,
          safeToFailBack: report.safeToFailBack,
          exitCode: code,
        },
        null,
        2,
      ),
    );
    if (code !== 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await moto.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
