// Helpers for the workflow tests (not a test file: jest only runs *.test.ts).
// The local runner (aws-local-stepfunctions with local handlers, the PutItem stand-in, the failure
// table) is the production one `iot-dr drill` uses: cli/drill/workflow.ts, re-exported here, as are
// its replica-stream records (cli/drill/stream.ts).
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createFailureTable as createTable } from '../../cli/drill/workflow';
import { workflowDefinition, type AslDefinition, type WorkflowDefinitionProps } from '../../stacks/workflow-definition';

export { dynamodbPutItem, type LocalHandler, type RunResult, runWorkflow } from '../../cli/drill/workflow';
/** Replica-stream records (`streamRecord`, `streamEvent`): the drill's, cli/drill/stream.ts (region us-west-2 by default). */
export { streamEvent, streamRecord } from '../../cli/drill/stream';

export const PRIMARY = 'us-east-1';
export const SECONDARY = 'us-west-2';
export const ACCOUNT = '123456789012';
export const FAILURE_TABLE = 'iot-dr-failures';

/** Fake worker ARNs: every Task is resolved to a local handler, nothing is invoked by ARN. */
export const FAKE_WORKERS = {
  thing: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing`,
  thingType: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing-type`,
  thingGroup: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-thing-group`,
  shadow: `arn:aws:lambda:${SECONDARY}:${ACCOUNT}:function:iot-dr-worker-shadow`,
} as const;

/** Retry policy of the tests: the same shape as production, small numbers. */
export const TEST_RETRY = { maxAttempts: 3, intervalSeconds: 1, maxDelaySeconds: 20 } as const;

export function testDefinition(overrides: Partial<WorkflowDefinitionProps> = {}): AslDefinition {
  return workflowDefinition({
    workers: FAKE_WORKERS,
    failureTableName: FAILURE_TABLE,
    failureRetentionDays: 14,
    retry: TEST_RETRY,
    taskTimeoutSeconds: 60,
    ...overrides,
  });
}

/** A replication-table item as the capture rules write it (event fields + bookkeeping). */
export function item(
  fields: Record<string, unknown>,
  overrides: { uuid?: string; originRegion?: string } = {},
): Record<string, unknown> {
  return {
    uuid: overrides.uuid ?? randomUUID(),
    expires: Math.floor(Date.now() / 1000) + 48 * 3600,
    originRegion: overrides.originRegion ?? PRIMARY,
    topic: `$aws/events/${String(fields.eventType ?? 'x').toLowerCase()}`,
    ...fields,
  };
}

/** Creates the failure table of the contract in `client`'s region. */
export function createFailureTable(client: DynamoDBClient, tableName = FAILURE_TABLE): Promise<void> {
  return createTable(client, tableName);
}
