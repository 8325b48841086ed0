// `node bin/iot-dr.js` started by a Node older than 22 (this machine's system Node is 20) re-runs
// itself under the project's Node 22 (the `node` devDependency) instead of failing later (the
// drill's Step Functions interpreter needs Promise.withResolvers). A preload script records the
// version of every Node process that loads the CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const bin = join(root, 'bin', 'iot-dr.js');

/** A `node` on the PATH (outside node_modules) older than 22, if this machine has one. */
function olderSystemNode(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'));
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const candidate = join(dir, 'node');
    try {
      const version = execFileSync(candidate, ['--version'], { encoding: 'utf8' }).trim();
      if (Number(version.replace(/^v/, '').split('.')[0]) < 22) return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

const older = olderSystemNode();
if (!older) console.log('node-version.test: no Node < 22 on this machine; the re-run under Node 22 is not exercised');
const withOlderNode = older ? it : it.skip;

describe('iot-dr under an older Node', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'iot-dr-node-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  withOlderNode('re-runs itself under the project Node 22 and keeps the exit code', () => {
    const log = join(dir, 'versions.log');
    const preload = join(dir, 'record.js');
    writeFileSync(preload, `require('node:fs').appendFileSync(${JSON.stringify(log)}, process.version + '\\n');\n`);
    const env = { PATH: '/usr/bin:/bin', HOME: dir, NODE_OPTIONS: `--require ${preload}` };
    const ok = spawnSync(older as string, [bin, '--version'], { encoding: 'utf8', env });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const versions = readFileSync(log, 'utf8').trim().split('\n');
    expect(versions).toHaveLength(2);
    expect(Number(versions[0].slice(1).split('.')[0])).toBeLessThan(22);
    expect(Number(versions[1].slice(1).split('.')[0])).toBeGreaterThanOrEqual(22);
    // A usage error keeps its exit code (2) through the re-run.
    const bad = spawnSync(older as string, [bin, 'copy', '--concurrency', '0'], { encoding: 'utf8', env });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--concurrency/);
  });

  withOlderNode('without the project Node it says what is needed and exits 2', () => {
    const env = { PATH: '/usr/bin:/bin', HOME: dir, IOT_DR_NODE_REEXEC: '1' };
    const run = spawnSync(older as string, [bin, '--version'], { encoding: 'utf8', env });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/iot-dr: Node\.js >= 22 is required \(this is v\d+/);
  });
});
