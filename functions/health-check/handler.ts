/**
 * Health-check Lambda behind the region's HTTP API: Route 53 calls it with `?key=<secret>`; it
 * answers 200 only after a real MQTT round trip through the region's IoT Core broker.
 */
import { createHealthCheck } from '../lib/health/check';
import { settingsFromEnv } from '../lib/health/env';

// Read once per cold start; the SSM call for the secret happens on the first request.
export const handler = createHealthCheck(settingsFromEnv());
