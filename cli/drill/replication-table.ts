/**
 * The replication table on moto with the keys and indexes stacks/replication-table.ts deploys.
 * moto has no global tables: `iot-dr drill` and the tests create one copy per region. Re-exported
 * to the tests by __tests__/support/replication-table.ts.
 */
import { CreateTableCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
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

/** Writes `item` into the table as the capture rule's DynamoDB action does (undefined fields left out). */
export async function putReplicationItem(client: DynamoDBClient, tableName: string, item: Record<string, unknown>): Promise<void> {
  await client.send(new PutItemCommand({ TableName: tableName, Item: marshall(item, { removeUndefinedValues: true }) as never }));
}
