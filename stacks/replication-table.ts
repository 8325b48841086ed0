import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Construct } from 'constructs';
import { DELETED_KEY_ATTRIBUTE, DELETIONS_INDEX } from '../functions/lib/markers';

/** Attribute names every replication item carries (written by the capture rules' SQL). */
export const ITEM = {
  /** Partition key: a fresh UUID per captured message (`newuuid()`). */
  id: 'uuid',
  /** Epoch seconds after which DynamoDB TTL removes the item. */
  expires: 'expires',
  /**
   * Region the event happened in. Current global tables (2019.11.21) no longer write
   * `aws:rep:updateregion`, so the capture rule writes its own region as a literal.
   */
  originRegion: 'originRegion',
  /** MQTT topic the event arrived on. */
  topic: 'topic',
  /**
   * Deletes only: `thing/<name>`, `thingGroup/<name>`, `thingType/<name>`, `shadow/<thing>/<name>`
   * (`''` for the classic shadow), written by the capture SQL. Sparse key of the
   * {@link DELETIONS_INDEX}: the tombstones two-way replication's conflict rule looks up.
   */
  deletedKey: DELETED_KEY_ATTRIBUTE,
} as const;

/** Sparse global secondary index of the delete events, by `deletedKey` (see docs/replication.md). */
export { DELETIONS_INDEX };

export interface ReplicationTableProps {
  readonly primary: AwsProvider;
  readonly secondaryRegion: string;
  readonly tableName: string;
  /** @default true */
  readonly deletionProtection?: boolean;
}

/**
 * The event log shared by both regions: a DynamoDB global table (current version, `replica`
 * block) with its stream in each region. The primary's rules write items; the replica's stream
 * drives replication in the secondary.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GlobalTables.html
 */
export class ReplicationTable extends Construct {
  public readonly table: DynamodbTable;

  constructor(scope: Construct, id: string, props: ReplicationTableProps) {
    super(scope, id);
    this.table = new DynamodbTable(this, 'table', {
      provider: props.primary,
      name: props.tableName,
      billingMode: 'PAY_PER_REQUEST',
      hashKey: ITEM.id,
      attribute: [
        { name: ITEM.id, type: 'S' },
        { name: ITEM.deletedKey, type: 'S' },
      ],
      // Sparse: only delete events carry the key, so the index costs next to nothing. Global
      // tables keep their indexes in every replica.
      globalSecondaryIndex: [{ name: DELETIONS_INDEX, hashKey: ITEM.deletedKey, projectionType: 'ALL' }],
      streamEnabled: true,
      streamViewType: 'NEW_AND_OLD_IMAGES',
      ttl: { attributeName: ITEM.expires, enabled: true },
      pointInTimeRecovery: { enabled: true },
      // AWS-managed KMS key (aws/dynamodb) in each region: auditable in CloudTrail.
      serverSideEncryption: { enabled: true },
      deletionProtectionEnabled: props.deletionProtection ?? true,
      replica: [
        {
          regionName: props.secondaryRegion,
          pointInTimeRecovery: true,
          // The secondary's copy is the DR copy: protected like the table itself.
          deletionProtectionEnabled: props.deletionProtection ?? true,
          propagateTags: true,
        },
      ],
    });
  }

  /** Stream ARN of the replica in the secondary region (drives the replication workflow). */
  public get replicaStreamArn(): string {
    return this.table.replica.get(0).streamArn;
  }

  /** ARN of the replica table in the secondary region. */
  public get replicaArn(): string {
    return this.table.replica.get(0).arn;
  }

  /** ARN of the table in one region: the primary's own, or the secondary's replica. */
  public arnIn(side: 'primary' | 'secondary'): string {
    return side === 'primary' ? this.table.arn : this.replicaArn;
  }

  /** Stream ARN in one region: drives the workflow that applies the other region's events there. */
  public streamArnIn(side: 'primary' | 'secondary'): string {
    return side === 'primary' ? this.table.streamArn : this.replicaStreamArn;
  }
}
