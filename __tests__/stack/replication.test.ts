import { REGISTRY_EVENT_FAMILIES } from '../../stacks/registry-capture';
import { resourceNamed, resourcesOf, synthJson } from '../support/synth';

describe('Construct: ReplicationTable', () => {
  const tf = synthJson({});
  const table = resourceNamed(tf, 'aws_dynamodb_table', 'replication-table');

  it('is an on-demand table in the primary with a replica in the secondary', () => {
    expect(table).toMatchObject({
      provider: 'aws.primary',
      name: 'iot-dr-events',
      billing_mode: 'PAY_PER_REQUEST',
      hash_key: 'uuid',
      replica: [expect.objectContaining({ region_name: 'us-west-2', point_in_time_recovery: true })],
    });
  });

  it('streams new and old images, expires items by TTL, is encrypted and point-in-time recoverable', () => {
    expect(table).toMatchObject({
      stream_enabled: true,
      stream_view_type: 'NEW_AND_OLD_IMAGES',
      ttl: { attribute_name: 'expires', enabled: true },
      server_side_encryption: { enabled: true },
      point_in_time_recovery: { enabled: true },
      deletion_protection_enabled: true,
    });
  });

  it('protects the secondary replica (the DR copy) from deletion too', () => {
    expect(table.replica).toEqual([expect.objectContaining({ region_name: 'us-west-2', deletion_protection_enabled: true })]);
  });

  it('indexes delete events by resource (sparse deletedKey index: the tombstones of two-way replication)', () => {
    expect(table.attribute).toEqual(expect.arrayContaining([{ name: 'deletedKey', type: 'S' }]));
    expect(table.global_secondary_index).toEqual([expect.objectContaining({ name: 'deletions', hash_key: 'deletedKey', projection_type: 'ALL' })]);
  });

  it('can leave deletion protection off, on the table and its replica', () => {
    const off = synthJson({ replication: { tableDeletionProtection: false } });
    const t = resourceNamed(off, 'aws_dynamodb_table', 'replication-table');
    expect(t.deletion_protection_enabled).toBe(false);
    expect(t.replica).toEqual([expect.objectContaining({ deletion_protection_enabled: false })]);
  });
});

describe('Construct: RegistryCapture (one-way: the primary only)', () => {
  const tf = synthJson({ replication: { direction: 'one-way' } });
  const rules: Record<string, Record<string, any>> = Object.fromEntries(
    resourcesOf(tf, 'aws_iot_topic_rule').map(([, body]) => [body.name, body]),
  );

  it('creates the three capture rules in the primary with SQL version 2016-03-23', () => {
    expect(Object.keys(rules).sort()).toEqual([
      'iot_dr_classic_shadows',
      'iot_dr_named_shadows',
      'iot_dr_registry_events',
    ]);
    for (const rule of Object.values(rules)) {
      expect(rule).toMatchObject({ provider: 'aws.primary', sql_version: '2016-03-23', enabled: true });
    }
  });

  it('captures every replicated registry event family', () => {
    const sql: string = rules.iot_dr_registry_events.sql;
    expect(sql).toContain("FROM '$aws/events/#'");
    for (const family of REGISTRY_EVENT_FAMILIES) expect(sql).toContain(`topic(3) = '${family}'`);
    expect(REGISTRY_EVENT_FAMILIES).toHaveLength(6);
  });

  it('captures classic and named shadow updates and deletes', () => {
    expect(rules.iot_dr_classic_shadows.sql).toContain(
      "FROM '$aws/things/+/shadow/+/accepted' WHERE (topic(5) = 'update' OR topic(5) = 'delete') AND ",
    );
    expect(rules.iot_dr_classic_shadows.sql).toContain("'' AS shadowName");
    expect(rules.iot_dr_named_shadows.sql).toContain(
      "FROM '$aws/things/+/shadow/name/+/+/accepted' WHERE (topic(7) = 'update' OR topic(7) = 'delete') AND ",
    );
    expect(rules.iot_dr_named_shadows.sql).toContain('topic(6) AS shadowName');
  });

  it('writes a unique id, the expiry, the origin region literal and the topic into every item', () => {
    for (const rule of Object.values(rules)) {
      expect(rule.sql).toMatch(
        /^SELECT \*, newuuid\(\) AS uuid, floor\(timestamp\(\) \/ 1000\) \+ 172800 AS expires, 'us-east-1' AS originRegion, topic\(\) AS topic/,
      );
    }
  });

  it('writes a tombstone key on delete events only (CASE without ELSE: absent otherwise)', () => {
    expect(rules.iot_dr_registry_events.sql).toContain("CASE topic(5) WHEN 'deleted' THEN concat(topic(3), '/', topic(4)) END AS deletedKey");
    expect(rules.iot_dr_classic_shadows.sql).toContain("CASE topic(5) WHEN 'delete' THEN concat('shadow/', topic(3), '/') END AS deletedKey");
    expect(rules.iot_dr_named_shadows.sql).toContain("CASE topic(7) WHEN 'delete' THEN concat('shadow/', topic(3), '/', topic(6)) END AS deletedKey");
  });

  it("drops the replicator's own shadow writes in the rule (clientToken iot-dr:...), keeps updates without a clientToken", () => {
    for (const rule of [rules.iot_dr_classic_shadows, rules.iot_dr_named_shadows]) {
      expect(rule.sql).toMatch(/ AND \(isUndefined\(clientToken\) OR NOT startswith\(clientToken, 'iot-dr:'\)\)$/);
    }
    expect(rules.iot_dr_registry_events.sql).not.toContain('clientToken');
  });

  it('derives the expiry from the configured TTL and the origin from the primary region', () => {
    const custom = synthJson({
      primaryRegion: 'eu-west-1',
      secondaryRegion: 'eu-central-1',
      replication: { itemTtlHours: 6, direction: 'one-way' },
    });
    for (const [, rule] of resourcesOf(custom, 'aws_iot_topic_rule')) {
      expect(rule.sql).toContain("+ 21600 AS expires, 'eu-west-1' AS originRegion");
    }
  });

  it('puts items into the table and reports failed actions to an encrypted queue', () => {
    const queue = resourceNamed(tf, 'aws_sqs_queue', 'registry-capture');
    expect(queue).toMatchObject({ provider: 'aws.primary', sqs_managed_sse_enabled: true });
    for (const rule of Object.values(rules)) {
      expect(rule.dynamodbv2).toEqual([
        expect.objectContaining({
          put_item: { table_name: expect.stringMatching(/^\$\{aws_dynamodb_table\.replication-table.*\.name\}$/) },
        }),
      ]);
      expect(rule.error_action.sqs.queue_url).toMatch(/^\$\{aws_sqs_queue\.registry-capture_errors.*\.url\}$/);
    }
  });

  it('raises an alarm while the error queue holds failed events', () => {
    expect(resourceNamed(tf, 'aws_cloudwatch_metric_alarm', 'errors-alarm')).toMatchObject({
      provider: 'aws.primary',
      namespace: 'AWS/SQS',
      metric_name: 'ApproximateNumberOfMessagesVisible',
      dimensions: { QueueName: expect.stringMatching(/^\$\{aws_sqs_queue\.registry-capture_errors.*\.name\}$/) },
      comparison_operator: 'GreaterThanThreshold',
      threshold: 0,
    });
  });

  it("limits the rules' role to putting items into this table and writing to the error queue", () => {
    const policy = JSON.parse(resourceNamed(tf, 'aws_iam_role_policy', 'registry-capture').policy);
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Action: ['dynamodb:PutItem'],
        Resource: [expect.stringMatching(/^\$\{aws_dynamodb_table\.replication-table.*\.arn\}$/)],
      }),
      expect.objectContaining({
        Action: ['sqs:SendMessage'],
        Resource: [expect.stringMatching(/^\$\{aws_sqs_queue\.registry-capture_errors.*\.arn\}$/)],
      }),
    ]);
    const role = resourceNamed(tf, 'aws_iam_role', 'registry-capture');
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ Service: 'iot.amazonaws.com' });
  });

  it("lets IoT assume the rules' role only for these three rules of this account (confused deputy)", () => {
    // Given the synthesized trust policy and the rules' names
    const trust = JSON.parse(resourceNamed(tf, 'aws_iam_role', 'registry-capture').assume_role_policy);
    const names = resourcesOf(tf, 'aws_iot_topic_rule')
      .filter(([, r]) => r.provider === 'aws.primary')
      .map(([, r]) => r.name as string)
      .sort();
    expect(names).toHaveLength(3);
    // Then the only statement carries aws:SourceAccount and one aws:SourceArn per rule, in the primary
    expect(trust.Statement).toHaveLength(1);
    const { Condition } = trust.Statement[0];
    const account = Condition.StringEquals['aws:SourceAccount'];
    expect(account).toMatch(/^\$\{data\.aws_caller_identity\.registry-capture_account_[\w]+\.account_id\}$/);
    const arns = [...Condition.ArnLike['aws:SourceArn']].sort();
    expect(arns).toEqual(
      names.map((n) =>
        expect.stringMatching(
          new RegExp(
            `^arn:\\$\\{data\\.aws_partition\\.[\\w-]+\\.partition\\}:iot:us-east-1:\\$\\{data\\.aws_caller_identity\\.[\\w-]+\\.account_id\\}:rule/${n}$`,
          ),
        ),
      ),
    );
  });
});

describe('Construct: RegistryCapture (two-way: both regions)', () => {
  const tf = synthJson({ primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' });
  const rules = resourcesOf(tf, 'aws_iot_topic_rule').map(([, body]) => body);

  it('creates the same three rules in each region, each writing its own region as the origin', () => {
    for (const [provider, region] of [
      ['aws.primary', 'eu-west-1'],
      ['aws.secondary', 'eu-central-1'],
    ]) {
      const mine = rules.filter((r) => r.provider === provider);
      expect(mine.map((r) => r.name).sort()).toEqual(['iot_dr_classic_shadows', 'iot_dr_named_shadows', 'iot_dr_registry_events']);
      for (const rule of mine) expect(rule.sql).toContain(`'${region}' AS originRegion`);
    }
  });

  it("lets each region's rules put items only into that region's copy of the table, with a role of their own", () => {
    const roles = resourcesOf(tf, 'aws_iam_role').filter(([id]) => id.includes('capture'));
    expect(roles.map(([, r]) => r.name).sort()).toEqual(['iot-dr-capture-rules', 'iot-dr-capture-rules-secondary']);
    const put = (fragment: string) =>
      JSON.parse(resourceNamed(tf, 'aws_iam_role_policy', fragment).policy).Statement.find((st: any) => st.Sid === 'PutEvents').Resource;
    expect(put('registry-capture_policy')).toEqual([expect.stringMatching(/^\$\{aws_dynamodb_table\.replication-table_[^.]+\.arn\}$/)]);
    expect(put('secondary-capture_policy')).toEqual([expect.stringMatching(/^\$\{tolist\(aws_dynamodb_table\.replication-table_[^.]+\.replica\)\.0\.arn\}$/)]);
  });

  it('turns registry events on in both regions', () => {
    const providers = resourcesOf(tf, 'aws_iot_event_configurations').map(([, e]) => e.provider).sort();
    expect(providers).toEqual(['aws.primary', 'aws.secondary']);
  });
});

describe('Construct: AccountSettings', () => {
  it('switches on registry events and thing indexing in the primary', () => {
    const tf = synthJson({ replication: { direction: 'one-way' } });
    const events = resourcesOf(tf, 'aws_iot_event_configurations')[0][1];
    expect(events.provider).toBe('aws.primary');
    expect(events.event_configurations).toEqual({
      THING: true,
      THING_TYPE: true,
      THING_TYPE_ASSOCIATION: true,
      THING_GROUP: true,
      THING_GROUP_MEMBERSHIP: true,
      THING_GROUP_HIERARCHY: true,
    });
    expect(resourcesOf(tf, 'aws_iot_indexing_configuration')[0][1]).toMatchObject({
      provider: 'aws.primary',
      thing_indexing_configuration: expect.objectContaining({ thing_indexing_mode: 'REGISTRY_AND_SHADOW' }),
    });
  });

  it('leaves account-wide settings alone when the configuration says they are managed elsewhere', () => {
    const tf = synthJson({ account: { manageEventConfigurations: false, manageIndexingConfiguration: false } });
    expect(tf.resource.aws_iot_event_configurations).toBeUndefined();
    expect(tf.resource.aws_iot_indexing_configuration).toBeUndefined();
  });
});
