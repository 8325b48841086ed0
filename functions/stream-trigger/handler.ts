/**
 * Stream trigger (in the region its workflow writes: the secondary, and with two-way replication the primary too): replica-table stream records -> synchronous Express batch
 * executions (EXPRESS) or one Standard execution each (STANDARD). Thin: the rules live in
 * `functions/lib/trigger`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { triggerConfig } from '../lib/trigger/config';
import { processBatch } from '../lib/trigger/process';

const config = triggerConfig();
const logger = new Logger({ serviceName: 'iot-dr-stream-trigger' });
const metrics = new Metrics({ namespace: 'IotDr', serviceName: 'stream-trigger' });

// Bounded SDK retries: a call still failing after them is returned to Lambda (batchItemFailures),
// whose own retries are bounded by the event source mapping. Every request is bounded too
// (throwOnRequestTimeout: without it @smithy/node-http-handler 4.x only logs a late request).
const base = {
  region: config.targetRegion,
  retryMode: 'adaptive' as const,
  ...(config.endpoint ? { endpoint: config.endpoint } : {}),
};
const clientConfig = {
  ...base,
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
};
// EXPRESS: StartSyncExecution answers when the batch execution ends, which Step Functions bounds
// at 300 s; a second attempt only for throttling/5xx answered quickly (the function's timeout,
// 330 s, ends anything longer, and Lambda then retries the batch).
const syncConfig = {
  ...base,
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 305_000, throwOnRequestTimeout: true },
  // StartSyncExecution is served on the `sync-states.` host: an emulator endpoint has no such host.
  ...(config.endpoint ? { disableHostPrefix: true } : {}),
};
const sfn = new SFNClient(config.workflowType === 'EXPRESS' ? syncConfig : clientConfig);
const sqs = new SQSClient(clientConfig);

/** Lambda entry point (event source mapping with `ReportBatchItemFailures`). */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  try {
    return await processBatch(event.Records ?? [], {
      sfn,
      sqs,
      stateMachineArn: config.stateMachineArn,
      workflowType: config.workflowType,
      dlqUrl: config.dlqUrl,
      targetRegion: config.targetRegion,
      logger,
      metrics,
    });
  } finally {
    metrics.publishStoredMetrics();
  }
}
