/**
 * Health canary on an EventBridge schedule (once a minute): several MQTT round trips through the
 * region's IoT Core broker, each published as a CloudWatch datapoint that the region's alarm (and
 * so Route 53) reads. No API, no secret.
 */
import { runCanary } from '../lib/health/canary';
import { canarySettingsFromEnv } from '../lib/health/env';

// Read once per cold start.
const settings = canarySettingsFromEnv();

export const handler = async (): Promise<{ checks: number; failed: number; unpublished: number }> => {
  const results = await runCanary(settings);
  return {
    checks: results.length,
    failed: results.filter((r) => !r.healthy).length,
    unpublished: results.filter((r) => !r.published).length,
  };
};
