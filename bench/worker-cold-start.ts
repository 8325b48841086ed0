/**
 * Cold start of the four replication workers, using the BUNDLED Lambda code (the zip Terraform
 * deploys, unzipped), against moto in two regions.
 *
 *   load:  module load of the bundle in a fresh Node process (the handler module creates the IoT
 *          and IoT-data clients of both regions, reads its environment, sets up logger/metrics).
 *   first: the first invocation: one event of the worker's family whose resources are already in
 *          sync (a real read of both regions, no write), so SDK first-call costs are included.
 *   warm:  the same event again in the same process.
 * Node's own process start-up is not included, just as Lambda's runtime bootstrap is not part
 * of the function's init duration.
 *
 * Usage: npm run bench:workers [-- --cold 10]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateThingCommand } from '@aws-sdk/client-iot';
import { unzipSync } from 'fflate';
import { emulatedLambdaEnv } from '../cli/moto';
import { bundleFunction } from '../stacks/bundle';
import { motoIot, startMoto } from '../__tests__/support/moto';

const args = process.argv.slice(2);
const i = args.indexOf('--cold');
const COLD_RUNS = i >= 0 ? Number(args[i + 1]) : 10;
if (!Number.isInteger(COLD_RUNS) || COLD_RUNS < 1 || COLD_RUNS > 1000) {
  throw new Error('--cold must be a whole number between 1 and 1000');
}
const PRIMARY = 'us-east-1';
const SECONDARY = 'us-west-2';
const THING = 'bench-thing';

/** One event per worker whose target is already in sync: a read-only convergence. */
const WORKERS: Array<{ entry: string; event: Record<string, unknown> }> = [
  {
    entry: 'worker-thing',
    event: { eventType: 'THING_EVENT', operation: 'UPDATED', thingName: THING, timestamp: Date.now() },
  },
  {
    entry: 'worker-thing-type',
    event: { eventType: 'THING_TYPE_EVENT', operation: 'DELETED', thingTypeName: 'bench-absent-type' },
  },
  {
    entry: 'worker-thing-group',
    event: { eventType: 'THING_GROUP_EVENT', operation: 'DELETED', thingGroupName: 'bench-absent-group' },
  },
  {
    entry: 'worker-shadow',
    event: { eventType: 'SHADOW_EVENT', operation: 'delete', thingName: THING, shadowName: '' },
  },
];

/** Runs inside each fresh process: load the bundle, invoke once cold, once warm. */
const RUNNER = `
const { performance } = require('node:perf_hooks');
(async () => {
  const t0 = performance.now();
  const { handler } = require(process.env.BENCH_BUNDLE);
  const loaded = performance.now();
  const input = { eventId: 'bench', event: JSON.parse(process.env.BENCH_EVENT) };
  await handler(input);
  const first = performance.now();
  await handler(input);
  process.stdout.write('BENCH ' + JSON.stringify({ loadMs: loaded - t0, firstMs: first - loaded, warmMs: performance.now() - first }) + '\\n');
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface Run {
  loadMs: number;
  firstMs: number;
  warmMs: number;
}

function runOnce(env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    // stderr (the workers' JSON logs) is discarded; a failure shows as a non-zero exit
    const child = spawn(process.execPath, ['-e', RUNNER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || !line) return reject(new Error(`bench runner exited with ${code}: ${err.slice(-2000)}`));
      resolve(JSON.parse(line.slice(6)) as Run);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(9);

async function main(): Promise<void> {
  const moto = await startMoto();
  const dirs: string[] = [];
  try {
    for (const region of [PRIMARY, SECONDARY]) {
      await motoIot(moto.endpoint, region).send(new CreateThingCommand({ thingName: THING }));
    }
    console.log(`worker cold start: bundled code, moto ${PRIMARY} -> ${SECONDARY}, ${COLD_RUNS} fresh processes each`);
    console.log('worker               zip       load median / worst     first invoke median / worst   warm median');
    for (const { entry, event } of WORKERS) {
      const bundle = bundleFunction(entry);
      const dir = mkdtempSync(join(tmpdir(), `iot-dr-bench-${entry}-`));
      dirs.push(dir);
      for (const [name, data] of Object.entries(unzipSync(readFileSync(bundle.zipPath))))
        writeFileSync(join(dir, name), data);
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        ...emulatedLambdaEnv(moto.endpoint),
        // as in Lambda: logs and EMF metrics are written (to the discarded stderr/stdout lines)
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_METRICS_DISABLED: 'false',
        POWERTOOLS_METRICS_NAMESPACE: 'IotDrBench',
        BENCH_BUNDLE: join(dir, 'index.js'),
        BENCH_EVENT: JSON.stringify(event),
        AWS_REGION: SECONDARY,
        ORIGIN_REGION: PRIMARY,
        TARGET_REGION: SECONDARY,
        REPLICATION_MODE: 'complete',
        PRINCIPAL_GRACE_SECONDS: '300',
      };
      const runs: Run[] = [];
      for (let n = 0; n < COLD_RUNS; n++) runs.push(await runOnce(env));
      const load = runs.map((r) => r.loadMs);
      const first = runs.map((r) => r.firstMs);
      const zipKiB = `${(statSync(bundle.zipPath).size / 1024).toFixed(0)} KiB`;
      console.log(
        `${entry.padEnd(20)} ${zipKiB.padStart(8)}  ${ms(median(load))} / ${ms(Math.max(...load))}    ${ms(median(first))} / ${ms(Math.max(...first))}      ${ms(median(runs.map((r) => r.warmMs)))}`,
      );
    }
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await moto.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
