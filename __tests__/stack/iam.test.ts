import { policyDocuments, synthJson } from '../support/synth';

/**
 * Statements whose API has no resource-level permissions, so IAM requires `"Resource": "*"`.
 * Each entry names the Sid and why; anything else with a `*` resource fails this test.
 */
const WILDCARD_RESOURCE_ALLOWED: Readonly<Record<string, string>> = {
  // CloudWatch Logs delivery for Step Functions: these log-delivery APIs accept only "*".
  // https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy
  LogDelivery: 'logs:*LogDelivery* and resource-policy APIs do not support resource-level permissions',
  // iot:DescribeEndpoint / ListThings / ListThingTypes / ListThingGroups / ListPolicies /
  // ListCertificates / SearchIndex on the registry have no resource type in the IAM reference.
  IotRegistryList: 'IoT list/describe-endpoint actions have no resource type',
  // cloudwatch:PutMetricData has no resource type; restricted by a namespace condition instead.
  Metrics: 'cloudwatch:PutMetricData has no resource type (scoped with cloudwatch:namespace)',
};

const CONFIGS = {
  defaults: {},
  'DNS, custom domain and alarm e-mail': {
    dns: { hostedZoneId: 'Z0123456789ABCDEFGHIJ', recordName: 'iot.example.com', customDomain: true },
    alarms: { email: 'ops@example.com' },
  },
};

describe('Stack: IAM least privilege', () => {
  describe.each(Object.entries(CONFIGS))('with %s', (_name, input) => {
    const docs = policyDocuments(synthJson(input));

    it('has policies to check', () => {
      expect(docs.length).toBeGreaterThan(0);
    });

    it('never grants a wildcard action', () => {
      const wildcards = docs.flatMap(({ id, doc }) =>
        doc.Statement.flatMap((s) =>
          ([] as string[])
            .concat(s.Action)
            .filter((a) => a === '*' || a.endsWith(':*'))
            .map((a) => `${id}: ${a}`),
        ),
      );
      expect(wildcards).toEqual([]);
    });

    it('never denies by omission: every statement allows', () => {
      for (const { doc } of docs) for (const s of doc.Statement) expect(s.Effect).toBe('Allow');
    });

    it('names resource ARNs except where the API has no resource-level permissions', () => {
      const offenders = docs.flatMap(({ id, doc }) =>
        doc.Statement.filter(
          (s) => ([] as string[]).concat(s.Resource).some((r) => r === '*') && !(s.Sid in WILDCARD_RESOURCE_ALLOWED),
        ).map((s) => `${id}/${s.Sid ?? '(no Sid)'}: ${JSON.stringify(s.Action)}`),
      );
      expect(offenders).toEqual([]);
    });
  });
});
