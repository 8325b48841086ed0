// Plan and apply the synthesized stack into moto server (both regions), check with the AWS
// SDK that key resources exist in the region their provider names and not in the other one,
// then destroy. Needs the engine (scripts/terraform-engine.sh); skipped with a reason otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { IoTClient, GetTopicRuleCommand } from '@aws-sdk/client-iot';
import { SQSClient, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { SSMClient, GetParameterCommand } from '@aws-sdk/client-ssm';
import { SFNClient, DescribeStateMachineCommand } from '@aws-sdk/client-sfn';
import { LambdaClient, GetEventSourceMappingCommand, GetFunctionCommand } from '@aws-sdk/client-lambda';
import { describeWithEngine, engine, explain, run, REPO } from './support';

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing', sessionToken: 'testing' };

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > end) throw new Error(`moto did not answer at ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface StateResource {
  address: string;
  type: string;
  values: Record<string, unknown>;
}

/** One existence check per resource type we can see with the SDK clients the project has. */
type Probe = (endpoint: string, region: string, v: Record<string, unknown>) => Promise<unknown>;
const probes: Record<string, Probe> = {
  aws_dynamodb_table: (endpoint, region, v) =>
    new DynamoDBClient({ endpoint, region, credentials }).send(new DescribeTableCommand({ TableName: String(v.name) })),
  aws_iot_topic_rule: (endpoint, region, v) =>
    new IoTClient({ endpoint, region, credentials }).send(new GetTopicRuleCommand({ ruleName: String(v.name) })),
  aws_sqs_queue: (endpoint, region, v) =>
    new SQSClient({ endpoint, region, credentials }).send(new GetQueueUrlCommand({ QueueName: String(v.name) })),
  aws_ssm_parameter: (endpoint, region, v) =>
    new SSMClient({ endpoint, region, credentials }).send(new GetParameterCommand({ Name: String(v.name) })),
  aws_sfn_state_machine: (endpoint, region, v) =>
    new SFNClient({ endpoint, region, credentials }).send(
      new DescribeStateMachineCommand({ stateMachineArn: String(v.arn) }),
    ),
  aws_lambda_event_source_mapping: (endpoint, region, v) =>
    new LambdaClient({ endpoint, region, credentials }).send(
      new GetEventSourceMappingCommand({ UUID: String(v.uuid) }),
    ),
  aws_lambda_function: (endpoint, region, v) =>
    new LambdaClient({ endpoint, region, credentials }).send(
      new GetFunctionCommand({ FunctionName: String(v.function_name) }),
    ),
};

describeWithEngine('plan/apply/destroy against moto server', () => {
  let moto: ChildProcess | undefined;
  let endpoint = '';
  const work = mkdtempSync(join(tmpdir(), 'iot-dr-moto-'));
  let env: Record<string, string> = {};
  let upResult: ReturnType<typeof run> | undefined;
  let downResult: ReturnType<typeof run> | undefined;

  beforeAll(async () => {
    const port = await freePort();
    endpoint = `http://127.0.0.1:${port}`;
    moto = spawn('bash', ['scripts/tofu-moto.sh', 'server', String(port)], { cwd: REPO, stdio: 'ignore' });
    await waitFor(`${endpoint}/moto-api/`, 120_000);
    env = {
      IOT_DR_TEST_ENDPOINT: endpoint,
      IOT_DR_MOTO_WORKDIR: work,
      IOT_DR_REQUIRE_ENGINE: '1',
      IOT_DR_MOTO_TIMINGS: join(work, 'timings.tsv'),
      // alarm topics too (KMS key, SNS topic, e-mail subscription per region)
      IOT_DR_CONFIG_JSON: JSON.stringify({
        replication: { tableDeletionProtection: false },
        alarms: { email: 'ops@example.com' },
      }),
    };
    upResult = run('bash', ['scripts/tofu-moto.sh', 'up'], env);
  }, 20 * 60_000);

  afterAll(async () => {
    try {
      if (upResult) {
        downResult = run('bash', ['scripts/tofu-moto.sh', 'down'], env);
      }
    } finally {
      if (moto && moto.exitCode === null) {
        const exited = new Promise((r) => moto!.once('exit', r));
        moto.kill();
        await exited;
      }
    }
    if (downResult && downResult.status !== 0)
      throw new Error(`tofu-moto.sh down (destroy) failed: ${explain(downResult)}`);
  }, 20 * 60_000);

  it(
    'plans the full stack with failover DNS, a custom domain and alarm topics (neither region us-east-1)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'iot-dr-moto-dns-'));
      // the widest configuration of scripts/engine-stacks.json: the engine's aws provider is cut to
      // the service packages of these configurations, so this plan also proves the cut covers them
      const { configurations } = JSON.parse(readFileSync(join(REPO, 'scripts', 'engine-stacks.json'), 'utf8')) as {
        configurations: Array<{ name: string; config: Record<string, unknown> }>;
      };
      const config = configurations.find((c) => c.name === 'widest')!.config;
      expect(config).toMatchObject({
        primaryRegion: 'eu-west-1',
        secondaryRegion: 'eu-central-1',
        dns: { customDomain: true },
        alarms: { email: 'ops@example.com' },
      });
      const r = run('bash', ['scripts/tofu-moto.sh', 'plan'], {
        ...env,
        IOT_DR_MOTO_WORKDIR: dir,
        IOT_DR_MOTO_TIMINGS: join(dir, 'timings.tsv'),
        IOT_DR_CONFIG_JSON: JSON.stringify(config),
      });
      if (r.status !== 0) throw new Error(`tofu-moto.sh plan failed: ${explain(r)}`);
      const plan = readFileSync(join(dir, 'plan.log'), 'utf8');
      const created = [...plan.matchAll(/^\s+# (\w+)\.\S+ will be created$/gm)].map((m) => m[1]);
      const count = (type: string) => created.filter((t) => t === type).length;
      // the parts only this configuration has, each planned by the real provider
      expect({
        records: count('aws_route53_record'),
        certificates: count('aws_acm_certificate'),
        validations: count('aws_acm_certificate_validation'),
        domains: count('aws_iot_domain_configuration'),
        topics: count('aws_sns_topic'),
        keys: count('aws_kms_key'),
        checks: count('aws_route53_health_check'),
      }).toEqual({ records: 4, certificates: 2, validations: 2, domains: 2, topics: 3, keys: 3, checks: 2 });
      expect(plan).toMatch(new RegExp(`Plan: ${created.length} to add, 0 to change, 0 to destroy`));
    },
    10 * 60_000,
  );

  it('synth, init, plan and apply succeed (moto-unsupported resources excluded)', () => {
    if (!upResult || upResult.status !== 0) throw new Error(`tofu-moto.sh up failed: ${upResult && explain(upResult)}`);
    console.log(`moto timings (s):\n${readFileSync(join(work, 'timings.tsv'), 'utf8')}`);
  });

  it('applies everything but exactly the resources moto cannot create (their dependents included)', () => {
    if (!upResult || upResult.status !== 0) throw new Error('apply did not succeed');
    const stack = JSON.parse(readFileSync(join(work, 'stack', 'cdk.tf.json'), 'utf8'));
    // skipped: moto cannot create them (scripts/tofu-moto.sh DEFAULT_EXCLUDE says why)
    const unsupported = ['aws_iot_event_configurations', 'aws_cloudwatch_metric_alarm', 'aws_iot_topic_rule'];
    const bodies = Object.entries(stack.resource as Record<string, Record<string, unknown>>).flatMap(([type, byName]) =>
      Object.entries(byName).map(([n, body]) => [`${type}.${n}`, JSON.stringify(body)] as const),
    );
    // ...and whatever references them (the canary's CLOUDWATCH_METRIC health checks name their alarm)
    const skipped = new Set(bodies.filter(([a]) => unsupported.includes(a.split('.')[0])).map(([a]) => a));
    for (let grew = true; grew; ) {
      grew = false;
      for (const [a, body] of bodies) {
        if (!skipped.has(a) && [...skipped].some((x) => body.includes(`\${${x}.`))) {
          skipped.add(a);
          grew = true;
        }
      }
    }
    const expected = bodies
      .map(([a]) => a)
      .filter((a) => !skipped.has(a))
      .sort();
    const applied = readFileSync(join(work, 'state.txt'), 'utf8')
      .split('\n')
      .filter((a) => a && !a.startsWith('data.'))
      .sort();
    expect(applied).toEqual(expected);
    // the resources that read the stand-ins' values are among them
    for (const fragment of [
      'aws_lambda_event_source_mapping.replication-workflow_stream-mapping',
      'aws_lambda_function.replication-workflow_trigger_function',
      'aws_iam_role_policy.replication-workflow_trigger_policy',
      'aws_iam_role_policy.registry-capture_policy',
      'aws_dynamodb_table.replication-table_', // the primary table, without its replica
    ]) {
      expect(applied.filter((a) => a.startsWith(fragment)).length).toBeGreaterThan(0);
    }
  });

  it(
    'key resources exist in the region of their provider, and not in the other region',
    async () => {
      if (!upResult || upResult.status !== 0) throw new Error('apply did not succeed');
      const e = engine().env;
      const show = run(e.IOT_DR_TOFU, ['-chdir=' + join(work, 'stack'), 'show', '-json'], {
        ...env,
        TF_CLI_CONFIG_FILE: e.IOT_DR_TOFURC,
      });
      if (show.status !== 0) throw new Error(`tofu show failed: ${explain(show)}`);
      const state = JSON.parse(show.stdout);
      const resources: StateResource[] = state.values?.root_module?.resources ?? [];
      const regions = new Set(resources.map((r) => r.values.region).filter((r): r is string => typeof r === 'string'));
      expect(regions.size).toBe(2); // primary and secondary both got resources
      // same type and name in a region: a resource the stack deliberately creates in both regions
      const nameOf = (v: Record<string, unknown>) => String(v.name ?? v.function_name ?? v.arn);
      const present = new Set(resources.map((r) => `${r.type}|${nameOf(r.values)}|${String(r.values.region)}`));
      let checked = 0;
      for (const r of resources) {
        const probe = probes[r.type];
        const region = r.values.region;
        if (!probe || typeof region !== 'string') continue;
        await expect(probe(endpoint, region, r.values)).resolves.toBeDefined();
        // a DynamoDB global table must be readable in every replica region; anything else
        // must not leak into the other region
        const replicas = Array.isArray(r.values.replica)
          ? (r.values.replica as Array<{ region_name?: string }>).map((x) => x.region_name).filter(Boolean)
          : [];
        for (const other of [...regions].filter((x) => x !== region)) {
          if (present.has(`${r.type}|${nameOf(r.values)}|${other}`)) continue;
          if (replicas.includes(other)) {
            await expect(probe(endpoint, other, r.values)).resolves.toBeDefined();
          } else {
            await expect(probe(endpoint, other, r.values)).rejects.toBeDefined();
          }
        }
        checked += 1;
      }
      expect(checked).toBeGreaterThan(0);
    },
    5 * 60_000,
  );
});
