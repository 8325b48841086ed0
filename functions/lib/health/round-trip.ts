/**
 * One MQTT round trip through a broker: connect, subscribe to a topic of our own, publish N
 * messages at QoS 1 and wait until all N come back, all within one deadline.
 *
 * Everything lives inside one call: the client, the nonce, the counters. Nothing is kept between
 * calls, so a warm Lambda container judges every invocation on its own (the reference kept its
 * counters in globals and reported healthy without receiving anything once warm).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, type MqttClient } from 'mqtt';

/** The steps of a round trip, in order; a failure names the step it happened in. */
export const PHASES = ['connect', 'subscribe', 'publish', 'receive'] as const;
export type Phase = (typeof PHASES)[number];

/** Milliseconds spent in each phase, and in total, of a successful round trip. */
export interface RoundTripTimings {
  readonly connectMs: number;
  readonly subscribeMs: number;
  readonly publishMs: number;
  readonly receiveMs: number;
  readonly totalMs: number;
}

/** A round trip that failed or ran out of time; `phase` says where. */
export class RoundTripError extends Error {
  public readonly phase: Phase;
  public readonly elapsedMs: number;
  /** Messages of this round trip that came back before the failure. */
  public readonly received: number;
  constructor(phase: Phase, reason: string, elapsedMs: number, received: number, options?: { cause?: unknown }) {
    super(`MQTT round trip failed in phase ${phase} after ${elapsedMs} ms: ${reason}`, options);
    this.name = 'RoundTripError';
    this.phase = phase;
    this.elapsedMs = elapsedMs;
    this.received = received;
  }
}

export interface RoundTripOptions {
  /** WebSocket URL of the broker (the presigned `wss://.../mqtt?...` URL for IoT Core). */
  readonly url: string;
  /** Client id, unique per call (IoT Core disconnects an older session with the same id). */
  readonly clientId: string;
  /** Topic, unique per call, that the client subscribes to and publishes on. */
  readonly topic: string;
  /** Messages published at QoS 1; all must come back. */
  readonly messageCount: number;
  /** The whole round trip, connect included, must end within this many milliseconds. */
  readonly deadlineMs: number;
  /** Extra CA certificates (PEM) to trust: tests with a self-signed broker only. */
  readonly ca?: string;
}

/** The round trip's own deadline passed (internal: surfaces as a RoundTripError). */
class DeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`deadline of ${deadlineMs} ms reached`);
    this.name = 'DeadlineError';
  }
}

/**
 * Runs one round trip and resolves with its timings, or rejects with a `RoundTripError` no
 * later than `deadlineMs` (plus the time to tear the socket down). The client is always closed.
 */
export async function mqttRoundTrip(options: RoundTripOptions): Promise<RoundTripTimings> {
  if (!Number.isInteger(options.messageCount) || options.messageCount < 1) {
    throw new RangeError(`messageCount must be a positive integer (got ${options.messageCount})`);
  }
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const nonce = randomUUID();
  const received = new Set<number>();
  let phase: Phase = 'connect';
  let client: MqttClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let succeeded = false;

  // Rejects on the deadline, on a transport error or on the connection closing: every phase races
  // against it, so a failure ends the wait at once instead of at the deadline.
  let abort!: (err: Error) => void;
  const aborted = new Promise<never>((_, reject) => {
    abort = reject;
  });
  aborted.catch(() => undefined);
  timer = setTimeout(() => abort(new DeadlineError(options.deadlineMs)), options.deadlineMs);
  const step = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => undefined); // the losing side of the race must not become an unhandled rejection
    return Promise.race([work, aborted]);
  };

  let allReceived!: () => void;
  const receivedAll = new Promise<void>((resolve) => {
    allReceived = resolve;
  });

  try {
    const mqttClient = connect(options.url, {
      clientId: options.clientId,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      resubscribe: false,
      connectTimeout: options.deadlineMs,
      keepalive: 30,
      wsOptions: { handshakeTimeout: options.deadlineMs, ...(options.ca ? { ca: options.ca } : {}) },
    });
    client = mqttClient;
    mqttClient.on('error', (err) => abort(err));
    mqttClient.on('close', () => abort(new Error('connection closed by the broker or the network')));
    mqttClient.on('message', (topic, payload) => {
      if (topic !== options.topic) return;
      try {
        const msg = JSON.parse(payload.toString('utf8')) as { n?: unknown; i?: unknown };
        if (msg.n === nonce && typeof msg.i === 'number' && msg.i >= 0 && msg.i < options.messageCount) {
          received.add(msg.i);
          if (received.size === options.messageCount) allReceived();
        }
      } catch {
        // Not one of ours: ignored, it cannot complete the round trip.
      }
    });

    await step(
      new Promise<void>((resolve) => {
        mqttClient.once('connect', () => resolve());
      }),
    );
    const connectedAt = elapsed();

    phase = 'subscribe';
    const granted = await step(mqttClient.subscribeAsync(options.topic, { qos: 1 }));
    if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${options.topic} refused`);
    const subscribedAt = elapsed();

    phase = 'publish';
    await step(
      Promise.all(
        Array.from({ length: options.messageCount }, (_, i) =>
          mqttClient.publishAsync(options.topic, JSON.stringify({ n: nonce, i }), { qos: 1 }),
        ),
      ),
    );
    const publishedAt = elapsed();

    phase = 'receive';
    await step(receivedAll);
    const total = elapsed();
    succeeded = true;
    return {
      connectMs: connectedAt,
      subscribeMs: subscribedAt - connectedAt,
      publishMs: publishedAt - subscribedAt,
      receiveMs: total - publishedAt,
      totalMs: total,
    };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new RoundTripError(phase, reason, elapsed(), received.size, { cause: err });
  } finally {
    clearTimeout(timer);
    timer = undefined;
    if (client) await disconnect(client, !succeeded);
  }
}

/** Sends DISCONNECT after a success; after a failure drops the socket at once. Bounded either way. */
async function disconnect(client: MqttClient, force: boolean): Promise<void> {
  client.removeAllListeners('message');
  client.on('error', () => undefined); // late transport errors after we gave up are expected
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.endAsync(force).catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 250);
    }),
  ]);
  clearTimeout(timer);
  if (!client.disconnected) client.end(true);
}
