import { synthJson, type TerraformJson } from '../support/synth';

/** Every `aws_*` resource and data source, with the provider it names. */
function awsBlocks(tf: TerraformJson): Array<{ address: string; provider: unknown }> {
  const blocks: Array<{ address: string; provider: unknown }> = [];
  for (const [kind, section] of [
    ['resource', tf.resource],
    ['data', tf.data ?? {}],
  ] as const) {
    for (const [type, byId] of Object.entries(section)) {
      if (!type.startsWith('aws_')) continue;
      for (const [id, body] of Object.entries(byId))
        blocks.push({ address: `${kind}.${type}.${id}`, provider: body.provider });
    }
  }
  return blocks;
}

const CONFIGS = {
  defaults: {},
  'failover DNS with a custom domain, secondary in Europe': {
    primaryRegion: 'eu-west-1' as const,
    secondaryRegion: 'eu-central-1' as const,
    dns: { hostedZoneId: 'Z0123456789ABCDEFGHIJ', recordName: 'iot.example.com', customDomain: true },
    alarms: { email: 'ops@example.com' },
  },
};

describe('Stack: IotDrStack providers', () => {
  describe.each(Object.entries(CONFIGS))('with %s', (_name, input) => {
    const tf = synthJson(input);
    const aliases = new Set(tf.provider.aws.map((p) => `aws.${p.alias}`));

    it('declares only aliased AWS providers, primary and secondary among them', () => {
      for (const p of tf.provider.aws) expect(p.alias).toEqual(expect.any(String));
      expect([...aliases]).toEqual(expect.arrayContaining(['aws.primary', 'aws.secondary']));
    });

    it('gives both regional providers their region and default tags', () => {
      const byAlias = Object.fromEntries(tf.provider.aws.map((p) => [p.alias, p]));
      const config = input as { primaryRegion?: string; secondaryRegion?: string };
      expect(byAlias.primary.region).toBe(config.primaryRegion ?? 'us-east-1');
      expect(byAlias.secondary.region).toBe(config.secondaryRegion ?? 'us-west-2');
      for (const alias of ['primary', 'secondary']) {
        expect(byAlias[alias].default_tags[0].tags).toMatchObject({ 'iot-dr:stack': 'iot-dr' });
      }
    });

    it('makes every AWS resource and data source name its provider explicitly', () => {
      const blocks = awsBlocks(tf);
      expect(blocks.length).toBeGreaterThan(5);
      const unnamed = blocks.filter((b) => typeof b.provider !== 'string' || !aliases.has(b.provider));
      expect(unnamed).toEqual([]);
    });

    it('puts the replication table in the primary and capture rules in each capturing region (both: two-way)', () => {
      const table = Object.values(tf.resource.aws_dynamodb_table).find((t) => t.name === 'iot-dr-events');
      expect(table?.provider).toBe('aws.primary');
      for (const type of ['aws_iot_topic_rule', 'aws_iot_event_configurations']) {
        const providers = Object.values(tf.resource[type] ?? {}).map((b) => b.provider);
        expect(providers.filter((p) => p === 'aws.primary').length).toBe(providers.filter((p) => p === 'aws.secondary').length);
        expect(new Set(providers)).toEqual(new Set(['aws.primary', 'aws.secondary']));
      }
    });
  });

  it('adds emulator endpoints only when a test endpoint is requested', () => {
    const normal = synthJson({});
    for (const p of normal.provider.aws) {
      expect(p).not.toHaveProperty('endpoints');
      expect(p).not.toHaveProperty('access_key');
      expect(p).not.toHaveProperty('skip_credentials_validation');
    }
    const emulated = synthJson({}, { testEndpoint: 'http://127.0.0.1:5000' });
    const primary = emulated.provider.aws.find((p) => p.alias === 'primary')!;
    expect(primary.endpoints[0]).toMatchObject({ iot: 'http://127.0.0.1:5000', dynamodb: 'http://127.0.0.1:5000' });
    expect(primary.skip_credentials_validation).toBe(true);
  });
});
