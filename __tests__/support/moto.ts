// Moto server harness shared by every integration test (not a test file: jest only runs *.test.ts).
// One moto process per test file is the intended use: `beforeAll(startMoto)`, `afterAll(stop)`.
// Two regions on the same moto are the primary and the secondary (moto keeps state per region).
// The launcher itself (free port with retry, AWS-style certificate ids, bounded start, stop) is
// the production one in cli/moto.ts, which `iot-dr drill` uses too.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import {
  type MotoServer,
  type MotoServerOptions,
  startMotoServer,
  EMULATOR_CREDENTIALS,
  emulatedLambdaEnv,
} from '../../cli/moto';

export { freePort } from '../../cli/moto';

/** Fake credentials: moto accepts anything, and real AWS must never be reachable from tests. */
export const FAKE_CREDENTIALS = EMULATOR_CREDENTIALS;
export { emulatedLambdaEnv };

/**
 * A replication worker's environment as the stack sets it (regions, mode, conflict policy), on
 * top of the emulator's (`emulatedLambdaEnv`): by default the primary (us-east-1) -> secondary
 * (us-west-2) direction of a one-way deployment; `direction` 'to-primary' is the two-way reverse.
 */
export function workerLambdaEnv(
  endpoint: string,
  mode: 'complete' | 'thing-only' = 'complete',
  options: { direction?: 'to-secondary' | 'to-primary'; conflicts?: 'mirror' | 'merge' } = {},
): Record<string, string> {
  const reverse = options.direction === 'to-primary';
  return {
    ...emulatedLambdaEnv(endpoint),
    ORIGIN_REGION: reverse ? 'us-west-2' : 'us-east-1',
    TARGET_REGION: reverse ? 'us-east-1' : 'us-west-2',
    CONFLICT_POLICY: options.conflicts ?? 'mirror',
    REPLICATION_MODE: mode,
  };
}

/** A running moto server (endpoint, reset, stop). */
export type Moto = MotoServer;

/** `startTimeoutMs` (default 60000) and extra `env` for the server process. */
export type StartMotoOptions = Omit<MotoServerOptions, 'binary'>;

const REPO = resolve(__dirname, '..', '..');
let cachedBinary: string | undefined;

/** Path of the moto_server executable: `IOT_DR_MOTO_SERVER` (set by `npm test`) or ensure-moto.sh. */
export function motoServerBinary(): string {
  if (process.env.IOT_DR_MOTO_SERVER) return process.env.IOT_DR_MOTO_SERVER;
  if (!cachedBinary) {
    cachedBinary = execFileSync('bash', [resolve(REPO, 'scripts', 'ensure-moto.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 600_000,
    }).trim();
  }
  return cachedBinary;
}

/**
 * Starts moto server on 127.0.0.1 on a free port and waits (bounded) until it answers.
 * @example
 *   let moto: Moto;
 *   beforeAll(async () => { moto = await startMoto(); });
 *   afterAll(() => moto?.stop());
 */
export async function startMoto(options: StartMotoOptions = {}): Promise<Moto> {
  return startMotoServer({ binary: motoServerBinary(), ...options });
}

/** SDK client configuration for `region` on moto: endpoint, fake credentials, few retries. */
export function motoClientConfig(endpoint: string, region: string) {
  return { endpoint, region, credentials: { ...FAKE_CREDENTIALS }, maxAttempts: 2 };
}

/** An IoT control-plane client for `region` on moto. */
export function motoIot(endpoint: string, region: string): IoTClient {
  return new IoTClient(motoClientConfig(endpoint, region));
}

/** An IoT data-plane (shadow) client for `region` on moto. */
export function motoIotData(endpoint: string, region: string): IoTDataPlaneClient {
  return new IoTDataPlaneClient(motoClientConfig(endpoint, region));
}

/** Any SDK v3 client for `region` on moto, e.g. `motoClient(DynamoDBClient, moto.endpoint, 'us-west-2')`. */
export function motoClient<C>(
  Client: new (config: ReturnType<typeof motoClientConfig>) => C,
  endpoint: string,
  region: string,
): C {
  return new Client(motoClientConfig(endpoint, region));
}
