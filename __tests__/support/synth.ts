/** Synthesizes the iot-dr stack for a configuration and returns the Terraform JSON. */
import { Testing } from 'cdktf';
import { parseConfig } from '../../config/load';
import type { IotDrConfigInput } from '../../config/schema';
import { IotDrStack } from '../../stacks/iot-dr-stack';

export type TerraformJson = {
  terraform: Record<string, any>;
  provider: Record<string, Array<Record<string, any>>>;
  resource: Record<string, Record<string, Record<string, any>>>;
  data?: Record<string, Record<string, Record<string, any>>>;
  output?: Record<string, { value: unknown; sensitive?: boolean }>;
};

export function synthJson(input: IotDrConfigInput = {}, options: { testEndpoint?: string } = {}): TerraformJson {
  const config = parseConfig(input);
  const app = Testing.app();
  const stack = new IotDrStack(app, config.namePrefix, { config, testEndpoint: options.testEndpoint });
  return JSON.parse(Testing.synth(stack)) as TerraformJson;
}

/** Every resource of a type, as [logical id, body] pairs. */
export function resourcesOf(tf: TerraformJson, type: string): Array<[string, Record<string, any>]> {
  return Object.entries(tf.resource[type] ?? {});
}

/** The one resource of a type whose logical id contains `fragment`. */
export function resourceNamed(tf: TerraformJson, type: string, fragment: string): Record<string, any> {
  const hits = resourcesOf(tf, type).filter(([id]) => id.includes(fragment));
  if (hits.length !== 1) {
    throw new Error(
      `expected one ${type} matching "${fragment}", found ${hits.map(([id]) => id).join(', ') || 'none'}`,
    );
  }
  return hits[0][1];
}

/** All IAM policy documents of the stack (inline role policies and standalone policies). */
export function policyDocuments(tf: TerraformJson): Array<{ id: string; doc: { Statement: any[] } }> {
  const docs: Array<{ id: string; doc: { Statement: any[] } }> = [];
  for (const type of ['aws_iam_role_policy', 'aws_iam_policy']) {
    for (const [id, body] of resourcesOf(tf, type)) docs.push({ id, doc: JSON.parse(body.policy) });
  }
  return docs;
}
