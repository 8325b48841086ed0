/**
 * The health check as an HTTP request handler: guard, then one MQTT round trip, then a status
 * Route 53 understands (200 healthy; 403 not allowed; 503 unhealthy, naming the failed phase).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SECRET_QUERY_PARAMETER, type SecretGuard } from './guard';
import { mqttRoundTrip, RoundTripError, type RoundTripTimings } from './round-trip';

export interface HealthCheckSettings {
  /** Builds the broker URL for one invocation (presigned for IoT Core; plain in tests). */
  readonly brokerUrl: () => Promise<string>;
  /** Judges the secret callers present (cached, rotation-aware, bounded reads). */
  readonly guard: SecretGuard;
  /** Prefix of client ids (`<prefix>-hc-<uuid>`) and topics (`<prefix>/health/<uuid>`). */
  readonly namePrefix: string;
  readonly messageCount: number;
  readonly deadlineMs: number;
  /** Extra CA (PEM) for the broker's TLS certificate: tests only. */
  readonly ca?: string;
  /** One structured line per invocation. @default console.log */
  readonly log?: (entry: Record<string, unknown>) => void;
}

/** The body of every answer. Never contains the secret. */
export type HealthCheckBody =
  | { readonly status: 'healthy'; readonly region?: string; readonly timings: RoundTripTimings }
  | {
      readonly status: 'unhealthy';
      readonly region?: string;
      readonly phase: string;
      readonly error: string;
      readonly elapsedMs: number;
    }
  | { readonly status: 'forbidden' }
  | { readonly status: 'error'; readonly error: string };

const json = (statusCode: number, body: HealthCheckBody): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/**
 * Creates the request handler. It holds no state between invocations besides what `settings`
 * holds (the guard's cached secret): each invocation makes its own client id, topic, nonce and connection.
 */
export function createHealthCheck(settings: HealthCheckSettings) {
  const log = settings.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const region = process.env.AWS_REGION;
  return async (
    event: Pick<APIGatewayProxyEventV2, 'queryStringParameters'>,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    // The deadline covers the whole invocation (the secret's first read included), not only MQTT.
    const started = performance.now();
    const provided = event.queryStringParameters?.[SECRET_QUERY_PARAMETER];
    if (!provided) {
      log({ outcome: 'forbidden', reason: 'missing secret' });
      return json(403, { status: 'forbidden' });
    }
    let allowed: boolean;
    try {
      // At most half of the deadline for the secret (cold start or re-read after a mismatch): the
      // rest is the round trip's. A correct key matching the cached value never waits for SSM.
      const budget = Math.floor(settings.deadlineMs / 2) - Math.round(performance.now() - started);
      allowed = (await settings.guard.check(provided, budget)) === 'allowed';
    } catch (err) {
      log({ outcome: 'error', error: err instanceof Error ? err.message : String(err) });
      return json(500, { status: 'error', error: 'secret unavailable' });
    }
    if (!allowed) {
      log({ outcome: 'forbidden', reason: 'wrong secret' });
      return json(403, { status: 'forbidden' });
    }

    const id = randomUUID();
    try {
      const timings = await mqttRoundTrip({
        url: await settings.brokerUrl(),
        clientId: `${settings.namePrefix}-hc-${id}`,
        topic: `${settings.namePrefix}/health/${id}`,
        messageCount: settings.messageCount,
        deadlineMs: Math.max(1, settings.deadlineMs - Math.round(performance.now() - started)),
        ca: settings.ca,
      });
      log({ outcome: 'healthy', ...timings });
      return json(200, { status: 'healthy', region, timings });
    } catch (err) {
      if (err instanceof RoundTripError) {
        log({
          outcome: 'unhealthy',
          phase: err.phase,
          error: err.message,
          elapsedMs: err.elapsedMs,
          received: err.received,
        });
        return json(503, {
          status: 'unhealthy',
          region,
          phase: err.phase,
          error: err.message,
          elapsedMs: err.elapsedMs,
        });
      }
      // Signing failed (no credentials): nothing was sent, the region cannot be judged healthy.
      const message = err instanceof Error ? err.message : String(err);
      log({ outcome: 'unhealthy', phase: 'connect', error: message });
      return json(503, { status: 'unhealthy', region, phase: 'connect', error: message, elapsedMs: 0 });
    }
  };
}
