// Benchmark: `iot-dr copy` of N things, each with its own certificate and one of P shared policies
// (region ARNs inside), a few in thing groups, from the primary to an empty secondary on moto
// server. Prints things per second; then checks with `iot-dr verify` that the regions match.
// Run: npm run bench:copy -- [--things 300] [--policies 10] [--concurrency 16] [--rate-limit 100] [--proxy on|off]
//        [--read-mode auto|index|api] [--indexing OFF|REGISTRY|REGISTRY_AND_SHADOW] [--quota Operation=TPS ...]
// `--quota` (repeatable) gives an operation another quota in the proxy and tells the CLI, as an
// account with raised quotas would (after `--quota-scale`).
// `--indexing` sets the primary's thing indexing before the copy (default REGISTRY_AND_SHADOW);
// with `--read-mode auto` (default) or `index` the copy then reads the things through SearchIndex,
// which the proxy answers from our emulation of the documented API (moto's has no pagination).
// Not a test. With `--proxy on` (the default) the copy and verify talk to moto through the
// quota-enforcing proxy (cli/quota-proxy.ts: AWS IoT's default per-operation TPS, HTTP 400
// ThrottlingException beyond it), and the bench prints the throughput against the ceiling of the
// binding quota (cli/rate-limits.ts quotaCeiling), and how many calls the proxy throttled.
// `--proxy off --rate-limit 0` measures the tool and moto alone. `--quota-scale 0.5` halves every
// quota in the proxy and tells the CLI (`--quota Operation=TPS` for each operation), for a machine
// where moto cannot serve the documented default quotas: the ceiling is then within moto's reach,
// and the share reached measures the tool's pacing, not the emulator's speed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import { UpdateIndexingConfigurationCommand, type ThingIndexingMode } from '@aws-sdk/client-iot';
import type { CopySummary } from '../cli/commands/copy';
import type { VerifyReport } from '../cli/commands/verify';
import { run } from '../cli/main';
import {
  addToGroup,
  createDevice,
  describeThing,
  createGroup,
  createPolicy,
  createThingType,
  PRIMARY,
  twoRegions,
} from '../__tests__/support/fleet';
import { FAKE_CREDENTIALS, startMoto } from '../__tests__/support/moto';
import { iotOperations, startQuotaProxy, type QuotaProxy } from '../cli/quota-proxy';
import { DEFAULT_QUOTA_TPS, IOT_API_QUOTAS_TPS } from '../cli/rate-limits';

const { values } = parseArgs({
  options: {
    things: { type: 'string', default: '300' },
    policies: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16' },
    'rate-limit': { type: 'string', default: '100' },
    proxy: { type: 'string', default: 'on' },
    'quota-scale': { type: 'string', default: '1' },
    'read-mode': { type: 'string', default: 'auto' },
    indexing: { type: 'string', default: 'REGISTRY_AND_SHADOW' },
    quota: { type: 'string', multiple: true, default: [] },
  },
});
const things = Number(values.things);
const policies = Number(values.policies);

async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => {
    err += c;
    process.stderr.write(c);
  });
  const code = await run(argv, { stdout, stderr, env: { ...process.env, IOT_DR_CONFIG: '' }, cwd });
  return { code, stdout: out, stderr: err };
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
    const { primary } = twoRegions(moto.endpoint);
    const t0 = Date.now();
    await createThingType(primary, 'sensor', { description: 'bench sensor', searchableAttributes: ['site'] });
    await createGroup(primary, 'fleet');
    await createGroup(primary, 'site-a', { parent: 'fleet', attributes: { city: 'paris' } });
    for (let p = 0; p < policies; p++) await createPolicy(primary, `bench-policy-${p}`);
    // moto answers an occasional HTTP 500 under concurrent load: the seeding retries a device.
    await pool(things, 8, async (i) => {
      const name = `bench-${String(i).padStart(6, '0')}`;
      for (let attempt = 1; ; attempt++) {
        try {
          if (!(await describeThing(primary, name))) {
            await createDevice(primary, name, {
              type: 'sensor',
              attributes: { site: String(i % 7) },
              policy: `bench-policy-${i % policies}`,
            });
          }
          if (i % 10 === 0) await addToGroup(primary, 'site-a', name);
          return;
        } catch (err) {
          if (attempt >= 3) throw err;
        }
      }
    });
    await primary.iot.send(
      new UpdateIndexingConfigurationCommand({ thingIndexingConfiguration: { thingIndexingMode: values.indexing as ThingIndexingMode } }),
    );
    console.log(
      `seeded ${things} things with certificates, ${policies} policies in ${PRIMARY} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    const scale = Number(values['quota-scale']);
    const raised = Object.fromEntries(
      (values.quota ?? []).map((q) => {
        const [op, tps] = q.split('=');
        if (!op || !(Number(tps) > 0)) throw new Error(`--quota ${q}: expected Operation=TPS`);
        return [op, Number(tps)] as const;
      }),
    );
    const scaled = scale === 1 ? {} : Object.fromEntries(iotOperations().map((op) => [op, (IOT_API_QUOTAS_TPS[op] ?? DEFAULT_QUOTA_TPS) * scale]));
    const quotas = Object.keys(scaled).length || Object.keys(raised).length ? { ...scaled, ...raised } : undefined;
    let proxy: QuotaProxy | undefined;
    if (values.proxy !== 'off') proxy = await startQuotaProxy({ upstream: moto.endpoint, quotas });
    const common = [
      '--endpoint',
      proxy?.endpoint ?? moto.endpoint,
      '--rate-limit',
      String(values['rate-limit']),
      ...Object.entries(quotas ?? {}).flatMap(([op, tps]) => ['--quota', `${op}=${tps}`]),
    ];
    const started = Date.now();
    const copy = await cli(
      ['copy', ...common, '--read-mode', String(values['read-mode']), '--concurrency', String(values.concurrency), '--json', '--checkpoint', join(dir, 'cp.json')],
      dir,
    );
    const seconds = (Date.now() - started) / 1000;
    const summary = JSON.parse(copy.stdout) as CopySummary;
    const calls = Object.values(summary.apiCalls).reduce((a, b) => a + b, 0);
    console.log(
      `copy: exit ${copy.code}, ${summary.thingsCopied} things in ${seconds.toFixed(1)} s = ${(summary.thingsCopied / seconds).toFixed(1)} things/s (concurrency ${values.concurrency}, rate limit ${values['rate-limit']}%), ${calls} API calls (${(calls / seconds).toFixed(0)}/s), failures ${summary.failures.length}`,
    );
    console.log(`outcomes: ${JSON.stringify(summary.outcomes)}`);
    const phase = summary.thingPhase;
    if (phase) {
      const perThing = Object.entries(phase.apiCalls)
        .map(([op, n]) => `${op} ${(n / Math.max(1, phase.things)).toFixed(2)}`)
        .join(', ');
      console.log(
        `things read ${phase.readMode} (${phase.reason}): ${phase.callsPerThing} API calls per thing [${perThing}]; answered without AWS: ${JSON.stringify(phase.answeredLocally)}`,
      );
    }
    const ceiling = summary.quotaCeiling;
    if (ceiling) {
      const rate = summary.thingsCopied / seconds;
      console.log(
        `binding quota: ${ceiling.operation} in ${ceiling.region}, ${ceiling.callsPerThing.toFixed(2)} call(s)/thing at ${ceiling.tps} TPS (${values['rate-limit']}% of the quota${scale === 1 ? '' : ` scaled by ${scale}`}, 100% when 0) => ceiling ${ceiling.thingsPerSecond.toFixed(2)} things/s; reached ${rate.toFixed(2)} things/s = ${((100 * rate) / ceiling.thingsPerSecond).toFixed(1)} % of it`,
      );
    }
    if (proxy) {
      const throttled = [...proxy.stats.entries()].filter(([, c]) => c.throttled > 0);
      const total = throttled.reduce((n, [, c]) => n + c.throttled, 0);
      console.log(
        `quota proxy: ${total} call(s) throttled${throttled.length ? ` (${throttled.map(([k, c]) => `${k} ${c.throttled}`).join(', ')})` : ''}`,
      );
    }

    const v0 = Date.now();
    const verify = await cli(['verify', ...common, '--json', '--no-shadows'], dir);
    const report = JSON.parse(verify.stdout) as VerifyReport;
    console.log(
      `verify: exit ${verify.code}, ${report.differences.length} difference(s), ${report.counts.secondary.things} things / ${report.counts.secondary.certificates} certificates / ${report.counts.secondary.policies} policies in the secondary, ${((Date.now() - v0) / 1000).toFixed(1)} s`,
    );
    await proxy?.stop();
    if (copy.code !== 0 || verify.code !== 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await moto.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
