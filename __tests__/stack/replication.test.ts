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

  it('indexes delete events, registry changes and shadow removals by resource (sparse indexes of the conflict rule)', () => {
    expect(table.attribute).toEqual(
      expect.arrayContaining([
        { name: 'deletedKey', type: 'S' },
        { name: 'changedKey', type: 'S' },
        { name: 'removedKey', type: 'S' },
        { name: 'timestamp', type: 'N' },
      ]),
    );
    expect(table.global_secondary_index).toEqual([
      expect.objectContaining({ name: 'deletions', hash_key: 'deletedKey', projection_type: 'ALL' }),
      // Sorted by the event's time; only what the lookups read is projected (an index write is
      // billed per KB of projected item).
      { name: 'changes', hash_key: 'changedKey', range_key: 'timestamp', projection_type: 'INCLUDE', non_key_attributes: ['originRegion'] },
      { name: 'removals', hash_key: 'removedKey', range_key: 'timestamp', projection_type: 'INCLUDE', non_key_attributes: ['originRegion', 'state'] },
    ]);
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

  it('writes a tombstone key on shadow delete events only (CASE without ELSE: absent otherwise)', () => {
    expect(rules.iot_dr_classic_shadows.sql).toContain("CASE topic(5) WHEN 'delete' THEN concat('shadow/', topic(3), '/') END AS deletedKey");
    expect(rules.iot_dr_named_shadows.sql).toContain("CASE topic(7) WHEN 'delete' THEN concat('shadow/', topic(3), '/', topic(6)) END AS deletedKey");
  });

  /**
   * The registry rule's key columns evaluated for one topic, by the documented semantics of a
   * simple CASE (first equal WHEN wins; no match: the ELSE, and without one Undefined, so the
   * column is absent).
   * Only the shape registryKeySql emits is understood: anything else fails the parse.
   * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-case.html
   */
  function registryKeys(sql: string, topic: string): Record<string, string> {
    const level = (n: number) => topic.split('/')[n - 1];
    const out: Record<string, string> = {};
    const cases = [
      ...sql.matchAll(
        /CASE concat\(topic\(3\), '\/', topic\(5\)\) ((?:WHEN '[^']+' THEN concat\(topic\(3\), '\/', topic\(4\)\) )+)(?:ELSE \(CASE concat\(topic\(3\), '\/', topic\(8\)\) WHEN '([^']+)' THEN concat\('thing\/', topic\(7\)\) END\) )?END AS (\w+)/g,
      ),
    ];
    expect(cases.map((c) => c[3])).toEqual(['deletedKey', 'changedKey']);
    for (const [, whens, orElse, name] of cases) {
      const values = [...whens.matchAll(/WHEN '([^']+)'/g)].map((w) => w[1]);
      if (values.includes(`${level(3)}/${level(5)}`)) out[name] = `${level(3)}/${level(4)}`;
      else if (orElse !== undefined && orElse === `${level(3)}/${level(8)}`) out[name] = `thing/${level(7)}`;
    }
    return out;
  }

  it.each([
    ['$aws/events/thing/lamp/created', { changedKey: 'thing/lamp' }],
    ['$aws/events/thing/lamp/updated', { changedKey: 'thing/lamp' }],
    ['$aws/events/thing/lamp/deleted', { deletedKey: 'thing/lamp' }],
    ['$aws/events/thingGroup/site/updated', { changedKey: 'thingGroup/site' }],
    ['$aws/events/thingGroup/site/deleted', { deletedKey: 'thingGroup/site' }],
    // deprecation and undeprecation are thing type updates
    ['$aws/events/thingType/sensor/updated', { changedKey: 'thingType/sensor' }],
    ['$aws/events/thingType/sensor/deleted', { deletedKey: 'thingType/sensor' }],
    // fifth level is a NAME here: no key even when it reads like an operation
    ['$aws/events/thingTypeAssociation/thing/lamp/deleted', {}],
    // a thing added to a group is a change of the thing; removed from one is not
    ['$aws/events/thingGroupMembership/thingGroup/updated/thing/lamp/added', { changedKey: 'thing/lamp' }],
    ['$aws/events/thingGroupMembership/thingGroup/site/thing/lamp/removed', {}],
    ['$aws/events/thingGroupHierarchy/thingGroup/created/childThingGroup/child/added', {}],
  ])('registry rule on %s writes %j (and no other conflict key)', (topic, keys) => {
    expect(registryKeys(rules.iot_dr_registry_events.sql, topic)).toEqual(keys);
  });

  it('marks shadow updates that remove a key (a null in the accepted state) with removedKey', () => {
    const classic = "CASE isNull(state) WHEN true THEN concat('shadow/', topic(3), '/') ELSE (CASE regexp_matches(cast(state AS String), ':[ ]*null') WHEN true THEN concat('shadow/', topic(3), '/') END) END AS removedKey";
    expect(rules.iot_dr_classic_shadows.sql).toContain(classic);
    expect(rules.iot_dr_named_shadows.sql).toContain(classic.replaceAll("concat('shadow/', topic(3), '/')", "concat('shadow/', topic(3), '/', topic(6))"));
    // The pattern against accepted states serialized as compact JSON (JSON.stringify stands in for
    // the rules engine's Object-to-String cast, which also leaves null unquoted): removals match at
    // any depth; values that merely hold null inside an array, or a key named null, do not; a
    // string containing ":null" is a false positive (one harmless index entry).
    const pattern = new RegExp(/regexp_matches\(cast\(state AS String\), '([^']+)'\)/.exec(classic)![1]);
    const matches = (state: unknown) => pattern.test(JSON.stringify(state));
    expect([{ reported: { color: null } }, { desired: null }, { reported: { a: { b: null } } }, { desired: { x: 1 }, reported: { y: null } }].map(matches)).toEqual([true, true, true, true]);
    expect([{ reported: { color: 'red' } }, { reported: { list: [1, null] } }, { reported: { null: 1 } }].map(matches)).toEqual([false, false, false]);
    expect(matches({ reported: { note: 'x:null' } })).toBe(true);
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
