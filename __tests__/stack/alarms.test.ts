/**
 * Alarm notifications: every CloudWatch alarm of the stack, whichever construct created it,
 * notifies (ALARM and OK) a topic in its own region: the KMS-encrypted topics iot-dr creates for
 * `alarms.email`, and/or the user's `alarms.topicArns`. Configuration mistakes fail at synth.
 */
import { Testing } from 'cdktf';
import { ConfigError, parseConfig } from '../../config/load';
import type { IotDrConfigInput } from '../../config/schema';
import { IotDrStack } from '../../stacks/iot-dr-stack';
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const PAGER = {
  primary: 'arn:aws:sns:eu-west-1:123456789012:pager',
  secondary: 'arn:aws:sns:eu-central-1:123456789012:pager',
  useast1: 'arn:aws:sns:us-east-1:123456789012:pager',
};

/** Region of each provider alias in the synthesized JSON. */
function providerRegions(tf: TerraformJson): Map<string, string> {
  return new Map(tf.provider.aws.map((p) => [`aws.${p.alias}`, p.region as string]));
}

function alarms(tf: TerraformJson) {
  return resourcesOf(tf, 'aws_cloudwatch_metric_alarm');
}

/** Region of the topic a `${aws_sns_topic.ID.arn}` reference points at. */
function topicRegionOf(tf: TerraformJson, reference: string): string {
  const id = /^\$\{aws_sns_topic\.([^.]+)\.arn\}$/.exec(reference)?.[1];
  if (!id) throw new Error(`not a topic reference: ${reference}`);
  return providerRegions(tf).get(tf.resource.aws_sns_topic[id].provider) as string;
}

function configProblems(input: unknown): readonly string[] {
  try {
    parseConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('Stack: alarm notifications', () => {
  it('covers every alarm the stack has: capture, replication and reconciliation (both directions), both canaries and both health checks', () => {
    const names = alarms(synthJson({})).map(([, a]) => `${a.alarm_name} (${a.provider})`);
    expect(names.sort()).toEqual([
      'iot-dr-capture-errors (aws.primary)',
      'iot-dr-capture-errors (aws.secondary)',
      'iot-dr-primary-canary (aws.primary)',
      'iot-dr-primary-unhealthy (aws.primary)',
      'iot-dr-reconcile-failed (aws.secondary)',
      'iot-dr-reconcile-failed-to-primary (aws.primary)',
      'iot-dr-replication-dlq-not-empty (aws.secondary)',
      'iot-dr-replication-dlq-not-empty-to-primary (aws.primary)',
      'iot-dr-replication-failed-events (aws.secondary)',
      'iot-dr-replication-failed-events-to-primary (aws.primary)',
      'iot-dr-replication-failures (aws.secondary)',
      'iot-dr-replication-failures-to-primary (aws.primary)',
      'iot-dr-secondary-canary (aws.secondary)',
      'iot-dr-secondary-unhealthy (aws.primary)',
    ]);
  });

  it('one-way replication has no reverse-direction alarms', () => {
    const names = alarms(synthJson({ replication: { direction: 'one-way' } })).map(([, a]) => a.alarm_name as string);
    expect(names.sort()).toEqual([
      'iot-dr-capture-errors',
      'iot-dr-primary-canary',
      'iot-dr-primary-unhealthy',
      'iot-dr-reconcile-failed',
      'iot-dr-replication-dlq-not-empty',
      'iot-dr-replication-failed-events',
      'iot-dr-replication-failures',
      'iot-dr-secondary-canary',
      'iot-dr-secondary-unhealthy',
    ]);
  });

  it('without alarms settings: no topics, no actions, and a synth warning saying so', () => {
    const config = parseConfig({});
    const app = Testing.app();
    const stack = new IotDrStack(app, 'iot-dr', { config });
    const tf = JSON.parse(Testing.synth(stack)) as TerraformJson;
    expect(tf.resource.aws_sns_topic).toBeUndefined();
    for (const [, alarm] of alarms(tf)) expect(alarm.alarm_actions).toBeUndefined();
    const warnings = stack.node.metadata.filter((m) => /warn/i.test(m.type)).map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringMatching(/14 alarms notify nobody: set alarms\.email or alarms\.topicArns/)]);
  });

  it.each<[string, IotDrConfigInput, string[]]>([
    ['primary in us-east-1', { alarms: { email: 'ops@example.com' } }, ['us-east-1', 'us-west-2']],
    [
      'neither region in us-east-1',
      { primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1', alarms: { email: 'ops@example.com' } },
      ['eu-central-1', 'eu-west-1', 'us-east-1'],
    ],
  ])(
    'alarms.email (%s): one encrypted topic per region with alarms, each alarm notifies its own region',
    (_n, input, regions) => {
      const tf = synthJson(input);
      const regionOf = providerRegions(tf);
      const topics = resourcesOf(tf, 'aws_sns_topic');
      expect(topics.map(([, t]) => regionOf.get(t.provider)).sort()).toEqual(regions);
      for (const [id, topic] of topics) {
        expect(topic.name).toBe('iot-dr-alarms');
        const keyId = /^\$\{aws_kms_key\.([^.]+)\.arn\}$/.exec(topic.kms_master_key_id)?.[1] as string;
        const key = tf.resource.aws_kms_key[keyId];
        expect(key.provider).toBe(topic.provider);
        expect(key.enable_key_rotation).toBe(true);
        // CloudWatch may use the key, only for this stack's alarms in the key's region
        const region = regionOf.get(topic.provider);
        expect(key.policy).toContain('cloudwatch.amazonaws.com');
        expect(key.policy).toContain(`:cloudwatch:${region}:`);
        const subscriptions = resourcesOf(tf, 'aws_sns_topic_subscription').filter(
          ([, s]) => s.topic_arn === `\${aws_sns_topic.${id}.arn}`,
        );
        expect(subscriptions.map(([, s]) => [s.protocol, s.endpoint, s.provider])).toEqual([
          ['email', 'ops@example.com', topic.provider],
        ]);
      }
      for (const [id, alarm] of alarms(tf)) {
        expect([id, alarm.alarm_actions]).toEqual([id, [expect.any(String)]]);
        expect(alarm.ok_actions).toEqual(alarm.alarm_actions);
        expect([id, topicRegionOf(tf, alarm.alarm_actions[0])]).toEqual([id, regionOf.get(alarm.provider)]);
      }
    },
  );

  it('alarms.topicArns: each alarm notifies the existing topic of its region, nothing is created', () => {
    const tf = synthJson({
      primaryRegion: 'eu-west-1',
      secondaryRegion: 'eu-central-1',
      alarms: { topicArns: [PAGER.primary, PAGER.secondary, PAGER.useast1] },
    });
    const regionOf = providerRegions(tf);
    expect(tf.resource.aws_sns_topic).toBeUndefined();
    expect(tf.resource.aws_kms_key).toBeUndefined();
    for (const [id, alarm] of alarms(tf)) {
      const region = regionOf.get(alarm.provider) as string;
      const expected = Object.values(PAGER).filter((arn) => arn.split(':')[3] === region);
      expect([id, alarm.alarm_actions, alarm.ok_actions]).toEqual([id, expected, expected]);
    }
  });

  it('alarms.email and alarms.topicArns together: both, in the alarm region', () => {
    const tf = synthJson({
      alarms: { email: 'ops@example.com', topicArns: ['arn:aws:sns:us-west-2:123456789012:pager'] },
    });
    const dlq = alarms(tf).find(([, a]) => a.alarm_name === 'iot-dr-replication-dlq-not-empty')?.[1];
    expect(dlq?.alarm_actions).toEqual([
      expect.stringMatching(/^\$\{aws_sns_topic\./),
      'arn:aws:sns:us-west-2:123456789012:pager',
    ]);
    const capture = alarms(tf).find(([, a]) => a.alarm_name === 'iot-dr-capture-errors')?.[1];
    expect(capture?.alarm_actions).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\./)]);
  });

  describe('configuration errors name the field and the rule', () => {
    it('a region with alarms but no topic', () => {
      expect(configProblems({ alarms: { topicArns: ['arn:aws:sns:us-east-1:123456789012:pager'] } })).toEqual([
        expect.stringMatching(
          /^alarms\.topicArns: .*needs a topic in every region that has alarms \(us-east-1, us-west-2\): none in us-west-2/,
        ),
      ]);
    });

    it('a topic in a region where the stack has no alarms', () => {
      const problems = configProblems({
        alarms: {
          topicArns: [
            PAGER.useast1,
            'arn:aws:sns:us-west-2:123456789012:pager',
            'arn:aws:sns:ap-south-1:123456789012:x',
          ],
        },
      });
      expect(problems).toEqual([
        expect.stringMatching(/^alarms\.topicArns\.2: .*is in ap-south-1, where this stack has no alarms/),
      ]);
    });

    it('not an SNS topic ARN', () => {
      expect(configProblems({ alarms: { topicArns: ['arn:aws:sqs:us-east-1:123456789012:q'] } })).toEqual(
        expect.arrayContaining([expect.stringMatching(/^alarms\.topicArns\.0: .*must be an SNS topic ARN/)]),
      );
    });

    it('not an e-mail address', () => {
      expect(configProblems({ alarms: { email: 'ops' } })).toEqual([expect.stringMatching(/^alarms\.email: /)]);
    });

    it('the old healthCheck.alarmEmail says where it moved', () => {
      expect(configProblems({ healthCheck: { alarmEmail: 'ops@example.com' } })).toEqual([
        expect.stringMatching(/^healthCheck\.alarmEmail: .*moved to alarms\.email/),
      ]);
    });
  });
});
