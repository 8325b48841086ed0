// Benchmark: replicate N things, each with its own certificate (CreateKeysAndCertificate) and a
// policy attached (shared among groups of things, region ARNs inside), from the primary to the
// secondary on moto, through the real worker-thing handler in complete mode.
// Run: npm run bench:replicate -- [--things 1000] [--policies 10] [--concurrency 8]
// Not a test: it prints things/s and checks the secondary holds what it should.
import { parseArgs } from 'node:util';
import { ListCertificatesCommand, ListThingsCommand, type IoTClient } from '@aws-sdk/client-iot';
import { createDevice, createPolicy, PRIMARY, thingEvent, twoRegions, workerInput } from '../__tests__/support/fleet';
import { workerLambdaEnv, startMoto } from '../__tests__/support/moto';

const { values } = parseArgs({
  options: {
    things: { type: 'string', default: '1000' },
    policies: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '8' },
  },
});
const things = Number(values.things);
const policies = Number(values.policies);
const concurrency = Number(values.concurrency);

/** Runs `work(i)` for i in [0, n) with at most `limit` in flight. */
async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function count(iot: IoTClient, what: 'things' | 'certificates'): Promise<number> {
  let total = 0;
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    if (what === 'things') {
      const r = await iot.send(new ListThingsCommand({ nextToken: token, maxResults: 250 }));
      total += r.things?.length ?? 0;
      token = r.nextToken;
    } else {
      const r = await iot.send(new ListCertificatesCommand({ marker: token, pageSize: 250 }));
      total += r.certificates?.length ?? 0;
      token = r.nextMarker;
    }
    if (!token) break;
  }
  return total;
}

async function main(): Promise<void> {
  const moto = await startMoto();
  try {
    const { primary, secondary } = twoRegions(moto.endpoint);
    Object.assign(process.env, {
      ...workerLambdaEnv(moto.endpoint),
    });
    // Loaded after the environment is set: the handler reads it at module load, like in Lambda.
    const { handler } = await import('../functions/worker-thing/handler');

    let started = Date.now();
    for (let p = 0; p < policies; p++) await createPolicy(primary, `bench-policy-${p}`);
    const name = (i: number) => `bench-${String(i).padStart(5, '0')}`;
    await pool(things, concurrency, async (i) => {
      await createDevice(primary, name(i), {
        attributes: { index: String(i), batch: 'bench' },
        policy: `bench-policy-${i % policies}`,
      });
    });
    const buildSeconds = (Date.now() - started) / 1000;
    console.log(
      `primary: ${things} things, ${things} certificates, ${policies} policies built in ${buildSeconds.toFixed(1)} s`,
    );

    // An hour-old event: the thing's certificate is in place, no principal grace retry applies.
    const events = Array.from({ length: things }, (_, i) =>
      thingEvent(PRIMARY, 'CREATED', { name: name(i), timestamp: Date.now() - 3_600_000 }),
    );
    started = Date.now();
    let failures = 0;
    await pool(things, concurrency, async (i) => {
      try {
        await handler(workerInput(events[i]));
      } catch (error) {
        failures++;
        if (failures <= 5) console.error(`${name(i)}: ${(error as Error).name}: ${(error as Error).message}`);
      }
    });
    const seconds = (Date.now() - started) / 1000;
    const [secondaryThings, secondaryCerts] = [
      await count(secondary.iot, 'things'),
      await count(secondary.iot, 'certificates'),
    ];
    console.log(
      `replicated ${things} things (complete mode, concurrency ${concurrency}) in ${seconds.toFixed(1)} s = ${(things / seconds).toFixed(1)} things/s; ` +
        `failures ${failures}; secondary has ${secondaryThings} things, ${secondaryCerts} certificates`,
    );
    if (failures || secondaryThings !== things || secondaryCerts !== things) process.exitCode = 1;

    // The same events again (duplicates): everything must already match, nothing is written.
    started = Date.now();
    let writes = 0;
    await pool(things, concurrency, async (i) => {
      const { outcomes } = await handler(workerInput(events[i]));
      writes += outcomes.filter((o) => o.action !== 'unchanged').length;
    });
    const again = (Date.now() - started) / 1000;
    console.log(
      `duplicate pass: ${things} events in ${again.toFixed(1)} s = ${(things / again).toFixed(1)} events/s; writes ${writes}`,
    );
    if (writes) process.exitCode = 1;
  } finally {
    await moto.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
