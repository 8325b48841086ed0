// Usage errors, configuration errors and help: each gives a clear message naming the argument or
// field and the rule, and its own exit code. Mostly in-process (fast), the executable once per code.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliProcess, scratchDir } from './helpers';

let scratch: ReturnType<typeof scratchDir>;
beforeAll(() => {
  scratch = scratchDir();
});
afterAll(() => scratch.cleanup());

const inProcess = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  cli(argv, { cwd: scratch.dir, env: { PATH: process.env.PATH, ...env } });

describe('iot-dr arguments and configuration', () => {
  it.each([
    [
      ['copy', '--concurrency', '0'],
      /option '--concurrency <n>' argument '0' is invalid\. must be between 1 and 256 \(got 0\)/,
    ],
    [
      ['copy', '--concurrency', 'many'],
      /'--concurrency <n>' argument 'many' is invalid\. must be a whole number between 1 and 256/,
    ],
    [
      ['verify', '--rate-limit', '101'],
      /'--rate-limit <percent>' argument '101' is invalid\. must be between 0 and 100/,
    ],
    [
      ['copy', '--endpoint', 'ftp://x'],
      /'--endpoint <url>' argument 'ftp:\/\/x' is invalid\. must be an http:\/\/ or https:\/\/ URL/,
    ],
    [
      ['copy', '--prefix', 'a b'],
      /'--prefix <name>' argument 'a b' is invalid\. must be 1-128 of the characters thing names allow/,
    ],
    [
      ['copy', '--prefix', 'a', '--query', 'thingName:a*'],
      /option '--prefix <name>' cannot be used with option '--query/,
    ],
    [['copy', '--bogus'], /unknown option '--bogus'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [
      ['verify', '--quota', 'ListThings'],
      /'--quota <operation=tps>' argument 'ListThings' is invalid\. must be Operation=TPS/,
    ],
    [['drill', '--timeout', '5'], /'--timeout <seconds>' argument '5' is invalid\. must be between 10 and 3600/],
  ])('rejects %j with exit 2 and says why', async (argv, message) => {
    const result = await inProcess(argv);
    expect(result.stderr).toMatch(message);
    expect(result.code).toBe(2);
    // One prefix for every error the CLI prints, commander's own included.
    expect(result.stderr).toMatch(/^iot-dr: error: /);
    expect(result.stderr).not.toMatch(/^error: /m);
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('(add --help for usage)');
  });

  it('Given no command, Then the help goes to stderr (a usage error: stdout stays empty) with exit 2', async () => {
    const result = await inProcess([]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Usage: iot-dr/);
    expect(result.stdout).toBe('');
  });

  it.each([
    [['copy', '--json', '--concurrency', '0'], /'--concurrency <n>' argument '0' is invalid/],
    [['verify', '--json', '--bogus'], /unknown option '--bogus'/],
    [['verify', '--json', '--config', 'nope.json'], /nope\.json.*file not found/s],
  ])('Given --json, When %j fails, Then the error is one JSON object on stdout and stderr is empty', async (argv, message) => {
    const result = await inProcess(argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('');
    const parsed = JSON.parse(result.stdout);
    expect(parsed).toEqual({ error: { kind: 'usage', exitCode: 2, message: expect.stringMatching(message) } });
  });

  it('Given no AWS credentials anywhere, Then the external error says how to provide them', async () => {
    const env = {
      HOME: scratch.dir,
      AWS_CONFIG_FILE: join(scratch.dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(scratch.dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true', // no instance metadata lookup: loopback only
      AWS_MAX_ATTEMPTS: '1',
    };
    const text = await inProcess(['verify', '--endpoint', 'http://127.0.0.1:9', '--rate-limit', '0'], env);
    expect(text.code).toBe(3);
    expect(text.stderr).toMatch(/^iot-dr: external error: CredentialsProviderError/m);
    expect(text.stderr).toMatch(/^ {2}hint: no AWS credentials were found: set AWS_PROFILE/m);
    const json = await inProcess(['verify', '--json', '--endpoint', 'http://127.0.0.1:9', '--rate-limit', '0'], env);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).error).toMatchObject({ kind: 'external', exitCode: 3, hint: expect.stringContaining('AWS_PROFILE') });
  });

  it.each(['copy', 'verify', 'drill'])('documents every option of %s in --help', async (command) => {
    const result = await inProcess([command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Usage: iot-dr ${command} \\[options\\]`));
    expect(result.stdout).toMatch(/--config <file>/);
    if (command !== 'drill') expect(result.stdout).toMatch(/--rate-limit <percent>.*\(default: 80\)/s);
    if (command === 'copy')
      for (const option of ['--checkpoint', '--dry-run', '--prefix', '--query', '--concurrency', '--limit', '--json'])
        expect(result.stdout).toContain(option);
  });

  it('rejects a bad configuration file naming each field and rule (exit 2)', async () => {
    const file = join(scratch.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ primaryRegion: 'mars-1', reconciliation: { thingsPerRun: 0 }, typo: true }));
    const result = await inProcess(['verify', '--config', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid iot-dr configuration/);
    expect(result.stderr).toMatch(/primaryRegion: unknown region "mars-1"/);
    expect(result.stderr).toMatch(/reconciliation\.thingsPerRun: must be between 1 and 100000 \(got 0\)/);
    expect(result.stderr).toMatch(/unknown key "typo"/);
  });

  it('rejects a configuration file that does not exist or is not JSON (exit 2)', async () => {
    const missing = await inProcess(['copy', '--config', 'nope.json']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json.*file not found/s);
    const file = join(scratch.dir, 'broken.json');
    writeFileSync(file, '{');
    const broken = await inProcess(['copy', '--config', file]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/not valid JSON/);
  });

  it('the executable: --help exits 0, a usage error 2, an unreachable AWS endpoint 3', async () => {
    const help = await cliProcess(['--help'], { cwd: scratch.dir });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Commands:[\s\S]*copy[\s\S]*verify[\s\S]*drill[\s\S]*Exit codes:/);

    const usage = await cliProcess(['verify', '--concurrency', '-1'], { cwd: scratch.dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--concurrency/);

    // Nothing listens on port 9 of loopback: the SDK's bounded retries end in an external error.
    const external = await cliProcess(['verify', '--endpoint', 'http://127.0.0.1:9', '--rate-limit', '0'], {
      cwd: scratch.dir,
      env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x', AWS_MAX_ATTEMPTS: '1', IOT_DR_CONFIG: '' },
      timeoutMs: 60_000,
    });
    expect(external.stderr).toMatch(/iot-dr: external error: .*ECONNREFUSED/);
    expect(external.code).toBe(3);
  });
});
