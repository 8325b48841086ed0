import { synthJson } from '../support/synth';

describe('Stack: state backend', () => {
  it.each([
    ['local', {}],
    ['s3', { backend: { type: 's3', bucket: 'acme-tfstate', region: 'eu-central-2' } }],
    ['cloud', { backend: { type: 'cloud', organization: 'acme', workspace: 'w' } }],
  ])('requires Terraform/OpenTofu 1.10+ (S3-native locking) with the %s backend', (_name, config) => {
    expect(synthJson(config as object).terraform.required_version).toBe('>= 1.10');
  });

  it('keeps both regions in one local state by default', () => {
    const tf = synthJson({});
    expect(tf.terraform.backend).toEqual({ local: { path: 'terraform.iot-dr.tfstate' } });
  });

  it('uses S3 with encryption and native locking when configured', () => {
    const tf = synthJson({
      backend: { type: 's3', bucket: 'acme-tfstate', region: 'eu-west-1', dynamodbTable: 'locks' },
    });
    expect(tf.terraform.backend).toEqual({
      s3: {
        bucket: 'acme-tfstate',
        key: 'iot-dr/terraform.tfstate',
        region: 'eu-west-1',
        encrypt: true,
        dynamodb_table: 'locks',
        use_lockfile: true,
      },
    });
  });

  it('uses a Terraform Cloud workspace when configured', () => {
    const tf = synthJson({ backend: { type: 'cloud', organization: 'acme', workspace: 'iot-dr-prod' } });
    expect(tf.terraform.cloud).toEqual({
      hostname: 'app.terraform.io',
      organization: 'acme',
      workspaces: { name: 'iot-dr-prod' },
    });
    expect(tf.terraform.backend).toBeUndefined();
  });
});
