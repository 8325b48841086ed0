/**
 * Stream trigger, in the region its workflow writes (the secondary; with two-way replication the
 * primary too): replica-table stream records -> synchronous Express batch executions (EXPRESS) or
 * one Standard execution each (STANDARD). Thin: the rules live in `functions/lib/trigger`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { triggerClients } from '../lib/trigger/clients';
import { triggerConfig } from '../lib/trigger/config';
import { processBatch } from '../lib/trigger/process';

const config = triggerConfig();
const logger = new Logger({ serviceName: 'iot-dr-stream-trigger' });
const metrics = new Metrics({ namespace: 'IotDr', serviceName: 'stream-trigger' });

const { sfn, sqs } = triggerClients(config);

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
