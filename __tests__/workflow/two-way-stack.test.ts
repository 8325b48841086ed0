// Two-way replication in the synthesized stack: the same ReplicationWorkflow construct instantiated
// for each direction (issue 10). The secondary -> primary instance lives in the primary, reads the
// primary's stream, and its workers may write only the primary; the primary -> secondary one stays
// as in one-way mode. The per-worker IAM drift guard covers both (worker-iam.test.ts).
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const CONFIG = { primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' } as const;
const WORKERS = ['worker-thing_', 'worker-thingType_', 'worker-thingGroup_', 'worker-shadow_'];

const under = (tf: TerraformJson, prefix: string, type: string) => resourcesOf(tf, type).filter(([id]) => id.startsWith(prefix));
const one = (tf: TerraformJson, prefix: string, type: string, fragment = '') => {
  const hits = under(tf, prefix, type).filter(([id]) => id.includes(fragment));
  if (hits.length !== 1) throw new Error(`expected one ${type} "${prefix}...${fragment}", got ${hits.length}`);
  return hits[0][1];
};
const statements = (tf: TerraformJson, prefix: string, fragment: string) =>
  JSON.parse(one(tf, prefix, 'aws_iam_role_policy', fragment).policy).Statement as Array<{ Sid: string; Action: string[]; Resource: string[] }>;
const iotRegion = (arn: string) => /:iot:([a-z0-9-]+):/.exec(arn)?.[1];

describe('Stack: two-way replication (default)', () => {
  const tf = synthJson(CONFIG);
  const directions = [
    { prefix: 'replication-workflow', provider: 'aws.secondary', origin: 'eu-west-1', target: 'eu-central-1', suffix: '' },
    { prefix: 'primary-replication', provider: 'aws.primary', origin: 'eu-central-1', target: 'eu-west-1', suffix: '-to-primary' },
  ];

  it.each(directions)('puts every resource of the workflow writing $target in that region ($provider)', ({ prefix, provider }) => {
    const providers = Object.keys(tf.resource).flatMap((type) => under(tf, prefix, type).map(([, b]) => b.provider));
    expect(providers.length).toBeGreaterThan(20);
    expect(new Set(providers)).toEqual(new Set([provider]));
  });

  it.each(directions)('names its resources with the direction suffix "$suffix" (IAM role names are global)', ({ prefix, suffix }) => {
    const machines = under(tf, prefix, 'aws_sfn_state_machine').map(([, m]) => m.name as string).sort();
    expect(machines).toContain(`iot-dr-replication${suffix}`);
    for (const name of machines) expect(name.endsWith(suffix)).toBe(true);
    expect(one(tf, prefix, 'aws_dynamodb_table', 'failures').name).toBe(`iot-dr-failures${suffix}`);
    expect(one(tf, prefix, 'aws_sqs_queue', 'dlq').name).toBe(`iot-dr-replication-dlq${suffix}`);
    const roles = under(tf, prefix, 'aws_iam_role').map(([, r]) => r.name as string);
    for (const name of roles) expect(name.endsWith(suffix)).toBe(true);
    const all = resourcesOf(tf, 'aws_iam_role').map(([, r]) => r.name);
    expect(new Set(all).size).toBe(all.length);
  });

  it.each(directions)('reads the stream of the $target copy of the table and skips that region\'s own events', ({ prefix, target }) => {
    const mapping = one(tf, prefix, 'aws_lambda_event_source_mapping');
    const table = resourcesOf(tf, 'aws_dynamodb_table').find(([, t]) => t.name === 'iot-dr-events')![0];
    expect(mapping.event_source_arn).toBe(
      target === 'eu-west-1' ? `\${aws_dynamodb_table.${table}.stream_arn}` : `\${tolist(aws_dynamodb_table.${table}.replica).0.stream_arn}`,
    );
    const patterns = mapping.filter_criteria.filter.map((f: { pattern: string }) => JSON.parse(f.pattern));
    expect(patterns[0].dynamodb.NewImage.originRegion.S).toEqual([{ 'anything-but': [target] }]);
    expect(one(tf, prefix, 'aws_lambda_function', 'trigger').environment.variables.TARGET_REGION).toBe(target);
  });

  it.each(directions)('gives its workers origin $origin, target $target and the merge conflict policy', ({ prefix, origin, target }) => {
    for (const w of WORKERS) {
      expect(one(tf, prefix, 'aws_lambda_function', w).environment.variables).toMatchObject({
        ORIGIN_REGION: origin,
        TARGET_REGION: target,
        CONFLICT_POLICY: 'merge',
      });
    }
  });

  it.each(directions)('lets its workers write only $target and read only $origin and $target', ({ prefix, origin, target }) => {
    for (const w of WORKERS) {
      const st = statements(tf, prefix, w);
      const iotWrites = st.filter((s) => s.Sid.startsWith('Write'));
      expect(iotWrites).toHaveLength(1);
      for (const r of iotWrites[0].Resource) expect(iotRegion(r)).toBe(target);
      // The conflict rule's lookups: Query on this region's copy of the table, on the indexes its
      // family reads only (registry: deletes and changes; shadow: deletes and removals)
      const tombstones = st.find((s) => s.Sid === 'ReadTombstones');
      expect(tombstones?.Action).toEqual(['dynamodb:Query']);
      const indexArn = (index: string) =>
        expect.stringMatching(
          target === 'eu-west-1'
            ? new RegExp(`^\\$\\{aws_dynamodb_table\\.[^.]+\\.arn\\}/index/${index}$`)
            : new RegExp(`\\.replica\\)\\.0\\.arn\\}/index/${index}$`),
        );
      expect(tombstones?.Resource).toEqual(w === 'worker-shadow_' ? [indexArn('deletions'), indexArn('removals')] : [indexArn('deletions'), indexArn('changes')]);
      for (const s of st.filter((x) => x.Sid.startsWith('Read') && x.Sid !== 'ReadTombstones')) {
        expect(new Set(s.Resource.map(iotRegion))).toEqual(new Set([origin, target]));
        for (const a of s.Action) expect(a).toMatch(/^iot:(Describe|List|Get)/);
      }
    }
  });

  it.each(directions)('lets Step Functions assume its workflow role only for its own two state machines, in $target', ({ prefix, target, suffix }) => {
    const role = under(tf, prefix, 'aws_iam_role').find(([, r]) => r.name === `iot-dr-replication${suffix}`)![1];
    const [statement] = JSON.parse(role.assume_role_policy).Statement;
    const arns = [].concat(statement.Condition.ArnLike['aws:SourceArn']) as string[];
    expect(arns.map((a) => /:states:([a-z0-9-]+):.*:stateMachine:(.+)$/.exec(a)?.slice(1))).toEqual([
      [target, `iot-dr-replication${suffix}`],
      [target, `iot-dr-replication-slow-lane${suffix}`],
    ]);
    // ...which are the machines that use it
    const machines = under(tf, prefix, 'aws_sfn_state_machine').map(([, m]) => m.name).sort();
    expect(machines).toEqual([`iot-dr-replication${suffix}`, `iot-dr-replication-slow-lane${suffix}`].sort());
  });

  it('one-way replication has neither the reverse workflow nor the secondary capture', () => {
    const oneWay = synthJson({ ...CONFIG, replication: { direction: 'one-way' } });
    expect(Object.keys(oneWay.resource).flatMap((type) => under(oneWay, 'primary-replication', type))).toEqual([]);
    expect(resourcesOf(oneWay, 'aws_iot_topic_rule').map(([, r]) => r.provider)).toEqual(['aws.primary', 'aws.primary', 'aws.primary']);
    expect(
      one(oneWay, 'replication-workflow', 'aws_lambda_function', 'worker-shadow_').environment.variables.CONFLICT_POLICY,
    ).toBe('mirror');
  });
});
