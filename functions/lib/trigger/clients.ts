/**
 * The stream trigger's SDK clients, built from its configuration: used by the Lambda handler
 * (functions/stream-trigger/handler.ts) and by `iot-dr drill`'s local pipeline (cli/drill/pipeline.ts),
 * so both call Step Functions and SQS with the same limits.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { TriggerConfig } from './config';

/**
 * Bounded SDK retries: a call still failing after them is returned to Lambda (batchItemFailures),
 * whose own retries are bounded by the event source mapping. Every request is bounded too
 * (throwOnRequestTimeout: without it @smithy/node-http-handler 4.x only logs a late request).
 * EXPRESS: StartSyncExecution answers when the batch execution ends, which Step Functions bounds
 * at 300 s; a second attempt only for throttling/5xx answered quickly (the function's timeout,
 * 330 s, ends anything longer, and Lambda then retries the batch).
 */
export function triggerClients(config: Pick<TriggerConfig, 'targetRegion' | 'workflowType' | 'endpoint'>): {
  sfn: SFNClient;
  sqs: SQSClient;
} {
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
  const syncConfig = {
    ...base,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 305_000, throwOnRequestTimeout: true },
    // StartSyncExecution is served on the `sync-states.` host: an emulator endpoint has no such host.
    ...(config.endpoint ? { disableHostPrefix: true } : {}),
  };
  return {
    sfn: new SFNClient(config.workflowType === 'EXPRESS' ? syncConfig : clientConfig),
    sqs: new SQSClient(clientConfig),
  };
}
