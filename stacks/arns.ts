import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import type { Construct } from 'constructs';

/**
 * `arn:<partition>:iot:<region>:<account>:<type>/*` for every region and type, regions first;
 * `account` and `partition` are the two values, for other ARNs of the same provider.
 */
export type IotArns = ((regions: readonly string[], ...types: string[]) => string[]) & {
  readonly account: string;
  readonly partition: string;
  /** `arn:<partition>:iam::<account>:role/*`: the roles of the same account (for `iam:PassRole`). */
  readonly iamRoles: () => string;
};

/**
 * IoT registry ARNs in `provider`'s account and partition, read by the data sources `account` and
 * `partition` created in `scope`. The construct ids are part of the resource addresses: callers
 * must not already hold children with those ids.
 */
export function iotArns(scope: Construct, provider: AwsProvider): IotArns {
  const account = new DataAwsCallerIdentity(scope, 'account', { provider });
  const partition = new DataAwsPartition(scope, 'partition', { provider });
  const arns = (regions: readonly string[], ...types: string[]) =>
    regions.flatMap((r) => types.map((t) => `arn:${partition.partition}:iot:${r}:${account.accountId}:${t}/*`));
  return Object.assign(arns, {
    account: account.accountId,
    partition: partition.partition,
    iamRoles: () => `arn:${partition.partition}:iam::${account.accountId}:role/*`,
  });
}
