import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Testing, TerraformStack } from 'cdktf';
import { unzipSync } from 'fflate';
import { bundleFunction } from '../../stacks/bundle';
import { NodejsFunction } from '../../stacks/nodejs-function';

const FIXTURES = join(__dirname, '..', 'fixtures', 'functions');

function synthFunction() {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'test');
  const provider = new AwsProvider(stack, 'secondary', { alias: 'secondary', region: 'us-west-2' });
  const fn = new NodejsFunction(stack, 'echo', {
    provider,
    functionName: 'iot-dr-echo',
    entry: 'fixture-echo',
    functionsDir: FIXTURES,
    logRetentionDays: 14,
    environment: { MODE: 'test' },
    statements: [{ actions: ['sqs:SendMessage'], resources: ['arn:aws:sqs:us-west-2:123456789012:q'] }],
  });
  return { fn, tf: JSON.parse(Testing.synth(stack)) };
}

describe('Construct: NodejsFunction', () => {
  const { fn, tf } = synthFunction();
  const lambda = Object.values(tf.resource.aws_lambda_function)[0] as Record<string, any>;

  it('creates a Node.js 22 function from the bundled zip with its source hash', () => {
    expect(lambda).toMatchObject({
      provider: 'aws.secondary',
      function_name: 'iot-dr-echo',
      runtime: 'nodejs22.x',
      handler: 'index.handler',
      architectures: ['arm64'],
      source_code_hash: fn.bundle.sha256,
      environment: { variables: { NODE_OPTIONS: '--enable-source-maps', MODE: 'test' } },
      logging_config: { log_format: 'JSON', log_group: expect.stringContaining('aws_cloudwatch_log_group') },
    });
    expect(lambda.filename).toMatch(/^assets\/.+\/fixture-echo\.zip$/);
  });

  it('gives the function its own log group with the configured retention', () => {
    const group = Object.values(tf.resource.aws_cloudwatch_log_group)[0] as Record<string, any>;
    expect(group).toMatchObject({ provider: 'aws.secondary', name: '/aws/lambda/iot-dr-echo', retention_in_days: 14 });
  });

  it('gives the function its own role, allowed to write only its own logs plus what it asks for', () => {
    const role = Object.values(tf.resource.aws_iam_role)[0] as Record<string, any>;
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: 'lambda.amazonaws.com' });
    const policy = JSON.parse((Object.values(tf.resource.aws_iam_role_policy)[0] as Record<string, any>).policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [expect.stringMatching(/^\$\{aws_cloudwatch_log_group\..*\.arn\}:\*$/)],
      }),
      expect.objectContaining({ Action: ['sqs:SendMessage'], Resource: ['arn:aws:sqs:us-west-2:123456789012:q'] }),
    ]);
  });

  it('zips a minified bundle and its source map, with fixed times and order', () => {
    const zip = readFileSync(fn.bundle.zipPath);
    const entries = unzipSync(zip);
    expect(Object.keys(entries)).toEqual(['index.js', 'index.js.map']);
    const code = Buffer.from(entries['index.js']).toString('utf8');
    expect(code.endsWith('//# sourceMappingURL=index.js.map\n')).toBe(true);
    // Minified: the handler's own local names are gone.
    expect(code.includes('const client')).toBe(false);
    expect(fn.bundle.codeBytes).toBe(entries['index.js'].byteLength);
    const map = JSON.parse(Buffer.from(entries['index.js.map']).toString('utf8'));
    expect(map.sources.every((s: string) => !s.startsWith('/'))).toBe(true);
    // Local file header: last-modified time and date at offsets 10 and 12 = 1980-01-01 00:00.
    expect(zip.readUInt16LE(10)).toBe(0);
    expect(zip.readUInt16LE(12)).toBe((0 << 9) | (1 << 5) | 1);
  });

  it('produces byte-identical zips across processes and time zones', () => {
    const script = `
      const { bundleFunction } = require(${JSON.stringify(require.resolve('../../stacks/bundle'))});
      const b = bundleFunction('fixture-echo', ${JSON.stringify(FIXTURES)}, process.argv[1]);
      process.stdout.write(b.sha256);`;
    const run = (tz: string) =>
      execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script, mkdtempSync(join(tmpdir(), 'zip-'))], {
        env: { ...process.env, TZ: tz },
      }).toString();
    const a = run('UTC');
    const b = run('Pacific/Kiritimati');
    expect(a).toBe(b);
    expect(a).toBe(bundleFunction('fixture-echo', FIXTURES).sha256);
  });

  it('reuses a cached zip until a file it was built from changes', () => {
    const functionsDir = mkdtempSync(join(tmpdir(), 'fns-'));
    const outDir = mkdtempSync(join(tmpdir(), 'zips-'));
    mkdirSync(join(functionsDir, 'fixture-cache'));
    const handler = join(functionsDir, 'fixture-cache', 'handler.ts');
    writeFileSync(handler, 'export const handler = async () => 1;\n');
    const script = `
      const { bundleFunction } = require(${JSON.stringify(require.resolve('../../stacks/bundle'))});
      process.stdout.write(bundleFunction('fixture-cache', ${JSON.stringify(functionsDir)}, ${JSON.stringify(outDir)}).sha256);`;
    const bundle = () => execFileSync(process.execPath, ['-r', 'tsx/cjs', '-e', script]).toString();
    const zip = join(outDir, 'fixture-cache.zip');

    const first = bundle();
    const builtAt = statSync(zip).mtimeMs;
    expect(bundle()).toBe(first);
    expect(statSync(zip).mtimeMs).toBe(builtAt);

    writeFileSync(handler, 'export const handler = async () => 2;\n');
    const changed = bundle();
    expect(changed).not.toBe(first);
    expect(Buffer.from(unzipSync(readFileSync(zip))['index.js']).toString()).toContain('2');
  });

  it('rejects wildcard actions', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'bad');
    const provider = new AwsProvider(stack, 'primary', { alias: 'primary', region: 'us-east-1' });
    expect(
      () =>
        new NodejsFunction(stack, 'bad', {
          provider,
          functionName: 'iot-dr-bad',
          entry: 'fixture-echo',
          functionsDir: FIXTURES,
          logRetentionDays: 1,
          statements: [{ actions: ['iot:*'], resources: ['*'] }],
        }),
    ).toThrow('IAM action "iot:*" is a wildcard');
  });
});
