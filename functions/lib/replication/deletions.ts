import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { clientConfig } from '../aws';
import { DELETED_KEY_ATTRIBUTE, DELETIONS_INDEX } from '../markers';

/**
 * The tombstones two-way replication decides "delete vs update" with: the delete events of the
 * replication table (global: every region's deletes are in every region's copy), found through its
 * sparse `deletions` index by resource.
 */
export interface DeletionLog {
  /**
   * The latest time (epoch milliseconds) `region` deleted the resource `key` (`thing/<name>`,
   * `shadow/<thing>/<shadowName>`, ...), if it did after `afterMs`.
   */
  deletedAfter(key: string, region: string, afterMs: number): Promise<number | undefined>;
}

/** Pages read per lookup at most (a resource deleted thousands of times within the item TTL). */
const MAX_PAGES = 10;

/** A `DeletionLog` over the replication table `tableName` in `region` (the worker's own). */
export function tableDeletionLog(options: { tableName: string; region: string; endpoint?: string; maxAttempts?: number }): DeletionLog {
  const client = new DynamoDBClient(clientConfig({ region: options.region, endpoint: options.endpoint, maxAttempts: options.maxAttempts ?? 3 }));
  return {
    async deletedAfter(key, region, afterMs) {
      let latest: number | undefined;
      let start: Record<string, never> | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const out = await client.send(
          new QueryCommand({
            TableName: options.tableName,
            IndexName: DELETIONS_INDEX,
            KeyConditionExpression: '#k = :k',
            FilterExpression: '#o = :o',
            ExpressionAttributeNames: { '#k': DELETED_KEY_ATTRIBUTE, '#o': 'originRegion', '#t': 'timestamp' },
            ExpressionAttributeValues: { ':k': { S: key }, ':o': { S: region } },
            ProjectionExpression: '#t',
            ExclusiveStartKey: start,
          }),
        );
        for (const item of out.Items ?? []) {
          const raw = Number(item.timestamp?.N);
          if (!Number.isFinite(raw)) continue;
          // Shadow documents carry epoch seconds, registry events epoch milliseconds.
          const ms = key.startsWith('shadow/') ? raw * 1000 : raw;
          if (ms > afterMs && (latest === undefined || ms > latest)) latest = ms;
        }
        start = out.LastEvaluatedKey as typeof start;
        if (!start) break;
      }
      return latest;
    },
  };
}
