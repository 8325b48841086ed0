import { DynamodbTable } from '@cdktf/provider-aws/lib/dynamodb-table';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Construct } from 'constructs';
import {
  CHANGED_KEY_ATTRIBUTE,
  CHANGES_INDEX,
  DELETED_KEY_ATTRIBUTE,
  DELETIONS_INDEX,
  EVENT_TIME_ATTRIBUTE,
  REMOVALS_INDEX,
  REMOVED_KEY_ATTRIBUTE,
} from '../functions/lib/markers';

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
  /**
   * Registry CREATED/UPDATED events of things, thing groups and thing types only: `thing/<name>`,
   * `thingGroup/<name>`, `thingType/<name>`. Sparse key of the {@link CHANGES_INDEX}.
   */
  changedKey: CHANGED_KEY_ATTRIBUTE,
  /**
   * Shadow updates whose accepted state holds a `null` (a removal) only: `shadow/<thing>/<name>`.
   * Sparse key of the {@link REMOVALS_INDEX}.
   */
  removedKey: REMOVED_KEY_ATTRIBUTE,
  /** The event's own time (registry: epoch ms; shadow: epoch s): sort key of those two indexes. */
  eventTime: EVENT_TIME_ATTRIBUTE,
} as const;

/**
 * Sparse global secondary indexes of two-way replication's conflict rule (docs/replication.md):
 * delete events by `deletedKey`; registry creates/updates by `changedKey` and time; shadow removals
 * by `removedKey` and time. Only items carrying the key are written to an index, so the bulk of the
 * traffic (shadow updates without a removal) costs no index write.
 */
export { CHANGES_INDEX, DELETIONS_INDEX, REMOVALS_INDEX };

/** The attributes the table and its indexes are keyed by (the table's `attribute` blocks). */
export const KEY_ATTRIBUTES = [
  { name: ITEM.id, type: 'S' },
  { name: ITEM.deletedKey, type: 'S' },
  { name: ITEM.changedKey, type: 'S' },
  { name: ITEM.removedKey, type: 'S' },
  { name: ITEM.eventTime, type: 'N' },
] as const;

/**
 * The table's global secondary indexes (see the exports above). The two sorted by time project
 * only what the lookups read: an index write is billed per KB of projected item.
 */
export const SECONDARY_INDEXES: ReadonlyArray<{
  readonly name: string;
  readonly hashKey: string;
  readonly rangeKey?: string;
  readonly projectionType: 'ALL' | 'INCLUDE';
  readonly nonKeyAttributes?: readonly string[];
}> = [
  { name: DELETIONS_INDEX, hashKey: ITEM.deletedKey, projectionType: 'ALL' },
  { name: CHANGES_INDEX, hashKey: ITEM.changedKey, rangeKey: ITEM.eventTime, projectionType: 'INCLUDE', nonKeyAttributes: [ITEM.originRegion] },
  { name: REMOVALS_INDEX, hashKey: ITEM.removedKey, rangeKey: ITEM.eventTime, projectionType: 'INCLUDE', nonKeyAttributes: [ITEM.originRegion, 'state'] },
];

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
      attribute: KEY_ATTRIBUTES.map((a) => ({ ...a })),
      // Sparse: only delete events, registry creates/updates and shadow removals carry a key, so the
      // indexes cost next to nothing. Global tables keep their indexes in every replica.
      globalSecondaryIndex: SECONDARY_INDEXES.map(({ nonKeyAttributes, ...i }) => ({ ...i, ...(nonKeyAttributes ? { nonKeyAttributes: [...nonKeyAttributes] } : {}) })),
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
