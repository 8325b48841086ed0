/**
 * Both health signals (issue 9): `--mode api` (the API-mode function), `--mode canary` (the
 * scheduled canary, and its monthly cost per region), default both.
 *
 * API mode: latency of the health-check function against the local test broker (aedes over WSS on
 * loopback) with its secret in moto's SSM, using the BUNDLED Lambda code (the zip Terraform
 * deploys, unzipped).
 *
 *   cold: a fresh Node process per run: module load of the bundle + the first invocation (which
 *         also reads the secret from SSM). Node's own process start-up is not included, just as
 *         Lambda's runtime bootstrap is not part of the function's init duration.
 *   warm: further invocations in one process.
 *
 *   first failure: a fresh process whose first invocation fails (broker refuses), with and without
 *         `--enable-source-maps` (the function now runs without it: issue 9, item 5).
 *
 * Canary mode: the bundled canary handler, cold (fresh process, one check) and warm (checks in one
 * process, each published to moto's CloudWatch), then the monthly cost per region from the measured
 * check time and AWS list prices (us-east-1, arm64; see PRICES).
 *
 * Usage: npm run bench:health [-- --mode api|canary|both --cold 10 --warm 50]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { unzipSync } from 'fflate';
import { parseConfig } from '../config/load';
import { bundleFunction } from '../stacks/bundle';
import { opensslAvailable, startBroker } from '../__tests__/support/broker';
import { motoClient, startMoto } from '../__tests__/support/moto';

const args = process.argv.slice(2);
const arg = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1 || v > 1000) throw new Error(`--${name} must be a whole number between 1 and 1000`);
  return v;
};
const modeArg = args.indexOf('--mode') >= 0 ? args[args.indexOf('--mode') + 1] : 'both';
if (!['api', 'canary', 'both'].includes(modeArg)) throw new Error('--mode must be api, canary or both');
const COLD_RUNS = arg('cold', 10);
const WARM_RUNS = arg('warm', 50);
const SECRET = 'BenchSecret0123456789abcdefghijklmnopqrs';
const PARAMETER = '/iot-dr/health-check/secret';

/** Runs inside each fresh process: load the bundle, invoke once cold, then `warm` times. */
const RUNNER = `
const { performance } = require('node:perf_hooks');
(async () => {
  const t0 = performance.now();
  const { handler } = require(process.env.BENCH_BUNDLE);
  const loaded = performance.now();
  const event = process.env.BENCH_SECRET ? { queryStringParameters: { key: process.env.BENCH_SECRET } } : {};
  const first = await handler(event);
  const cold = { loadMs: loaded - t0, invokeMs: performance.now() - loaded, status: first.statusCode ?? (first.failed === 0 && first.unpublished === 0 ? 200 : 503) };
  const warm = [];
  for (let i = 0; i < Number(process.env.BENCH_WARM); i++) {
    const s = performance.now();
    const r = await handler(event);
    warm.push({ ms: performance.now() - s, status: r.statusCode ?? (r.failed === 0 && r.unpublished === 0 ? 200 : 503) });
  }
  process.stdout.write('BENCH ' + JSON.stringify({ cold, warm }) + '\\n');
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface RunResult {
  cold: { loadMs: number; invokeMs: number; status: number };
  warm: Array<{ ms: number; status: number }>;
}

function runOnce(env: NodeJS.ProcessEnv, warm: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', RUNNER], {
      env: { ...env, BENCH_WARM: String(warm) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('BENCH '));
      if (code !== 0 || !line) return reject(new Error(`bench runner exited with ${code}`));
      resolve(JSON.parse(line.slice(6)) as RunResult);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** Unzips a function's deployed zip into a temporary folder. */
function unzipBundle(name: string) {
  const bundle = bundleFunction(name);
  const dir = mkdtempSync(join(tmpdir(), `iot-dr-bench-${name}-`));
  for (const [file, data] of Object.entries(unzipSync(readFileSync(bundle.zipPath))))
    writeFileSync(join(dir, file), data);
  return { bundle, dir, zipBytes: statSync(bundle.zipPath).size };
}

async function main(): Promise<void> {
  if (modeArg !== 'canary') await apiMode();
  if (modeArg !== 'api') await canaryMode();
}

async function apiMode(): Promise<void> {
  const settings = parseConfig({}).healthCheck;
  const bundle = bundleFunction('health-check');
  const zipBytes = statSync(bundle.zipPath).size;
  const dir = mkdtempSync(join(tmpdir(), 'iot-dr-bench-hc-'));
  for (const [name, data] of Object.entries(unzipSync(readFileSync(bundle.zipPath))))
    writeFileSync(join(dir, name), data);

  const tls = opensslAvailable();
  const [broker, moto] = await Promise.all([startBroker({ tls }), startMoto()]);
  try {
    await motoClient(SSMClient, moto.endpoint, 'us-east-1').send(
      new PutParameterCommand({ Name: PARAMETER, Type: 'SecureString', Value: SECRET }),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BENCH_BUNDLE: join(dir, 'index.js'),
      BENCH_SECRET: SECRET,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_SESSION_TOKEN: 'testing',
      AWS_EC2_METADATA_DISABLED: 'true',
      // As deployed (issue 9): no --enable-source-maps for the health functions.
      NODE_OPTIONS: '',
      IOT_DR_AWS_ENDPOINT: moto.endpoint,
      IOT_DR_HEALTH_ENDPOINT: 'abcdefgh12345-ats.iot.us-east-1.amazonaws.com',
      IOT_DR_HEALTH_ENDPOINT_URL: broker.url,
      ...(broker.caFile ? { IOT_DR_HEALTH_CA_FILE: broker.caFile } : {}),
      IOT_DR_HEALTH_SECRET_PARAMETER: PARAMETER,
      IOT_DR_NAME_PREFIX: 'iot-dr',
      IOT_DR_HEALTH_MESSAGE_COUNT: String(settings.messageCount),
      IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(settings.deadlineMilliseconds),
    };

    const cold: RunResult['cold'][] = [];
    let warm: RunResult['warm'] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const r = await runOnce(env, i === 0 ? WARM_RUNS : 0);
      cold.push(r.cold);
      if (i === 0) warm = r.warm;
    }
    const failures = [...cold.map((c) => c.status), ...warm.map((w) => w.status)].filter((s) => s !== 200).length;
    const coldTotals = cold.map((c) => c.loadMs + c.invokeMs);

    console.log(
      `health-check bench: broker ${tls ? 'wss' : 'ws'}://127.0.0.1 (aedes), SSM on moto, ${settings.messageCount} messages, deadline ${settings.deadlineMilliseconds} ms`,
    );
    console.log(
      `bundle: index.js ${(bundle.codeBytes / 1024).toFixed(0)} KiB, zip ${(zipBytes / 1024).toFixed(0)} KiB (${bundle.zipPath})`,
    );
    console.log(
      `cold (${COLD_RUNS} fresh processes): load+first invoke median ${fmt(median(coldTotals))}, worst ${fmt(Math.max(...coldTotals))}`,
    );
    console.log(
      `  module load median ${fmt(median(cold.map((c) => c.loadMs)))}, worst ${fmt(Math.max(...cold.map((c) => c.loadMs)))}`,
    );
    console.log(
      `  first invoke (SSM read + round trip) median ${fmt(median(cold.map((c) => c.invokeMs)))}, worst ${fmt(Math.max(...cold.map((c) => c.invokeMs)))}`,
    );
    console.log(
      `warm (${WARM_RUNS} invocations in one process): median ${fmt(median(warm.map((w) => w.ms)))}, worst ${fmt(Math.max(...warm.map((w) => w.ms)))}`,
    );
    console.log(`non-200 answers: ${failures}`);
    if (failures > 0) process.exitCode = 1;

    // The first failure of a container: the broker refuses, so the first invocation answers 503.
    for (const [label, nodeOptions] of [
      ['without source maps (deployed)', ''],
      ['with --enable-source-maps (before)', '--enable-source-maps'],
    ] as const) {
      const firsts: number[] = [];
      for (let i = 0; i < COLD_RUNS; i++) {
        const r = await runOnce(
          { ...env, NODE_OPTIONS: nodeOptions, IOT_DR_HEALTH_ENDPOINT_URL: 'ws://127.0.0.1:9' },
          0,
        );
        // 503 (the refused connection); 500 when the cold SSM read itself ran out of its budget on a busy machine
        if (r.cold.status !== 503 && r.cold.status !== 500) {
          throw new Error(`expected a failure from a refused broker, got ${r.cold.status}`);
        }
        firsts.push(r.cold.invokeMs);
      }
      console.log(
        `first failure in a fresh container, ${label}: median ${fmt(median(firsts))}, worst ${fmt(Math.max(...firsts))}`,
      );
    }
  } finally {
    await Promise.all([broker.stop(), moto.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** AWS list prices used for the canary's monthly cost (us-east-1, checked 2026-12; re-check yours). */
const PRICES = {
  // https://aws.amazon.com/lambda/pricing/ (arm64)
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  // https://aws.amazon.com/cloudwatch/pricing/ : PutMetricData requests, custom metrics, standard alarm
  putMetricDataRequest: 0.01 / 1000,
  customMetric: 0.3,
  standardAlarm: 0.1,
  logsIngestedGb: 0.5,
  // https://aws.amazon.com/route53/pricing/ : a health check on an AWS resource, no optional feature
  route53HealthCheck: 0.5,
  // https://aws.amazon.com/iot-core/pricing/ : messages (2 published + 2 delivered per check), connection minutes
  iotMessage: 1.0 / 1e6,
  iotConnectionMinute: 0.08 / 1e6,
};

async function canaryMode(): Promise<void> {
  const config = parseConfig({});
  const settings = config.healthCheck;
  const { bundle, dir, zipBytes } = unzipBundle('health-canary');
  const tls = opensslAvailable();
  const [broker, moto] = await Promise.all([startBroker({ tls }), startMoto()]);
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BENCH_BUNDLE: join(dir, 'index.js'),
      BENCH_SECRET: '',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_SESSION_TOKEN: 'testing',
      AWS_EC2_METADATA_DISABLED: 'true',
      NODE_OPTIONS: '',
      IOT_DR_AWS_ENDPOINT: moto.endpoint,
      IOT_DR_HEALTH_ENDPOINT: 'abcdefgh12345-ats.iot.us-east-1.amazonaws.com',
      IOT_DR_HEALTH_ENDPOINT_URL: broker.url,
      ...(broker.caFile ? { IOT_DR_HEALTH_CA_FILE: broker.caFile } : {}),
      IOT_DR_NAME_PREFIX: 'iot-dr',
      IOT_DR_HEALTH_MESSAGE_COUNT: String(settings.messageCount),
      IOT_DR_HEALTH_DEADLINE_MILLISECONDS: String(settings.deadlineMilliseconds),
      // One check per handler call: the bench measures a check (round trip + PutMetricData), not the waits.
      IOT_DR_CANARY_INTERVAL_SECONDS: '1',
      IOT_DR_CANARY_CHECKS: '1',
    };
    const cold: RunResult['cold'][] = [];
    let warm: RunResult['warm'] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const r = await runOnce(env, i === 0 ? WARM_RUNS : 0);
      cold.push(r.cold);
      if (i === 0) warm = r.warm;
    }
    const failures = [...cold.map((c) => c.status), ...warm.map((w) => w.status)].filter((s) => s !== 200).length;
    const checkMs = median(warm.map((w) => w.ms));
    const coldTotals = cold.map((c) => c.loadMs + c.invokeMs);

    // Monthly cost per region with the defaults, from the measured check time.
    const checks = 60 / settings.intervalSeconds;
    const runsPerMonth = 30 * 24 * 60;
    const runSeconds = (checks - 1) * settings.intervalSeconds + checkMs / 1000;
    const memoryGb = 0.25;
    const checksPerMonth = runsPerMonth * checks;
    const cost = {
      'Lambda duration': runsPerMonth * runSeconds * memoryGb * PRICES.lambdaGbSecond,
      'Lambda requests': runsPerMonth * PRICES.lambdaRequest,
      'CloudWatch PutMetricData': checksPerMonth * PRICES.putMetricDataRequest,
      'CloudWatch custom metrics (2)': 2 * PRICES.customMetric,
      'CloudWatch alarm (canary)': PRICES.standardAlarm,
      'CloudWatch alarm (HealthCheckStatus)': PRICES.standardAlarm,
      'CloudWatch Logs (~400 B per check)': ((checksPerMonth * 400 * 1.2) / 1e9) * PRICES.logsIngestedGb,
      'Route 53 health check (CLOUDWATCH_METRIC)': PRICES.route53HealthCheck,
      'IoT Core messages (4 per check)': checksPerMonth * 4 * PRICES.iotMessage,
      'IoT Core connection minutes': checksPerMonth * PRICES.iotConnectionMinute,
    };
    const total = Object.values(cost).reduce((a, b) => a + b, 0);

    console.log(
      `health-canary bench: broker ${tls ? 'wss' : 'ws'}://127.0.0.1 (aedes), CloudWatch on moto, ${settings.messageCount} messages, deadline ${settings.deadlineMilliseconds} ms`,
    );
    console.log(
      `bundle: index.js ${(bundle.codeBytes / 1024).toFixed(0)} KiB, zip ${(zipBytes / 1024).toFixed(0)} KiB`,
    );
    console.log(
      `cold (${COLD_RUNS} fresh processes): load+first check median ${fmt(median(coldTotals))}, worst ${fmt(Math.max(...coldTotals))}; module load median ${fmt(median(cold.map((c) => c.loadMs)))}`,
    );
    console.log(
      `warm check (round trip + PutMetricData, ${WARM_RUNS} in one process): median ${fmt(checkMs)}, worst ${fmt(Math.max(...warm.map((w) => w.ms)))}`,
    );
    console.log(`failed or unpublished checks: ${failures}`);
    console.log(
      `monthly cost per region (defaults: ${checks} checks/min, ${memoryGb * 1024} MB arm64, run ≈ ${runSeconds.toFixed(1)} s):`,
    );
    for (const [item, usd] of Object.entries(cost)) console.log(`  ${item.padEnd(44)} $${usd.toFixed(2)}`);
    console.log(`  ${'total'.padEnd(44)} $${total.toFixed(2)}`);
    if (failures > 0) process.exitCode = 1;
  } finally {
    await Promise.all([broker.stop(), moto.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
