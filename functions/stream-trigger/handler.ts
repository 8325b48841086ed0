/**
 * Stream trigger (secondary region): replica-table stream records -> one replication workflow
 * execution each. Thin: the rules live in `functions/lib/trigger`.
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
// whose own retries are bounded by the event source mapping.
const clientConfig = {
  region: config.secondaryRegion,
  maxAttempts: 3,
  retryMode: 'adaptive' as const,
  ...(config.endpoint ? { endpoint: config.endpoint } : {}),
};
const sfn = new SFNClient(clientConfig);
const sqs = new SQSClient(clientConfig);

/** Lambda entry point (event source mapping with `ReportBatchItemFailures`). */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  try {
    return await processBatch(event.Records ?? [], {
      sfn,
      sqs,
      stateMachineArn: config.stateMachineArn,
      dlqUrl: config.dlqUrl,
      secondaryRegion: config.secondaryRegion,
      logger,
      metrics,
    });
  } finally {
    metrics.publishStoredMetrics();
  }
}
