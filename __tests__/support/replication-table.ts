// The replication table on moto with the keys and indexes stacks/replication-table.ts deploys
// (not a test file). moto has no global tables: a test creates one copy per region.
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ITEM, KEY_ATTRIBUTES, SECONDARY_INDEXES } from '../../stacks/replication-table';

export async function createReplicationTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: KEY_ATTRIBUTES.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
      KeySchema: [{ AttributeName: ITEM.id, KeyType: 'HASH' }],
      GlobalSecondaryIndexes: SECONDARY_INDEXES.map((i) => ({
        IndexName: i.name,
        KeySchema: [
          { AttributeName: i.hashKey, KeyType: 'HASH' as const },
          ...(i.rangeKey ? [{ AttributeName: i.rangeKey, KeyType: 'RANGE' as const }] : []),
        ],
        Projection: { ProjectionType: i.projectionType, ...(i.nonKeyAttributes ? { NonKeyAttributes: [...i.nonKeyAttributes] } : {}) },
      })),
    }),
  );
}
