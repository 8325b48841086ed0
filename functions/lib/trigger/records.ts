/**
 * Decoding of replication-table stream records into workflow executions. Pure: no AWS calls, so
 * every rule (what is replicated, what is rejected and why) is testable without an emulator.
 */
import { createHash } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { EVENT_TYPES } from '../event-types';

/** Event types a worker handles (the capture rules' `eventType`). */
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

export { MAX_EVENTS_PER_BATCH_EXECUTION, MAX_EXECUTION_INPUT_BYTES } from './limits';
import { MAX_EXECUTION_INPUT_BYTES } from './limits';

/** What to do with one stream record. */
export type Decision =
  /** Start the workflow with this name and input. */
  | {
      readonly kind: 'start';
      readonly eventId: string;
      readonly executionName: string;
      readonly input: string;
      readonly thingName?: string;
    }
  /** The record is an event of the secondary region itself: not replicated back. */
  | { readonly kind: 'skip'; readonly eventId?: string; readonly reason: string }
  /** The record cannot be replicated: send it to the DLQ with the reason. */
  | { readonly kind: 'reject'; readonly eventId?: string; readonly reason: string };

const EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * A Step Functions execution name for an item id: the id itself when it is already 1-80 letters,
 * digits, `-` or `_` (UUIDs from `newuuid()` are), otherwise a sanitized prefix plus a hash of the
 * id, so two different ids never share a name (names are idempotency keys for 90 days).
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html
 */
export function executionNameFor(id: string): string {
  if (EXECUTION_NAME.test(id)) return id;
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16);
  const prefix = id.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 63);
  return `${prefix}-${hash}`;
}

const rawJson = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;

/**
 * DynamoDB numbers have up to 38 digits; a JavaScript number only 15-17. An integer beyond
 * `Number.MAX_SAFE_INTEGER` (a 64-bit counter in a shadow, say) is kept as its exact digits in the
 * execution input (`JSON.rawJSON`, Node 22) instead of being rounded or, with `unmarshall`'s
 * default, failing the whole record.
 */
function exactNumber(digits: string): unknown {
  const n = Number(digits);
  if (Number.isSafeInteger(n) || (Number.isFinite(n) && !/^-?\d+$/.test(digits))) return n;
  return rawJson ? rawJson(digits) : digits;
}

/**
 * Decides what to do with one record of the replica table's stream.
 * @param targetRegion this trigger's region: events that originated here are not replicated back (loop prevention)
 */
export function decodeRecord(record: DynamoDBRecord, targetRegion: string): Decision {
  const keyId = record.dynamodb?.Keys?.uuid?.S;
  if (record.eventName !== 'INSERT') {
    return {
      kind: 'reject',
      eventId: keyId,
      reason: `eventName must be INSERT (got ${JSON.stringify(record.eventName)})`,
    };
  }
  const image = record.dynamodb?.NewImage;
  if (!image) {
    return {
      kind: 'reject',
      eventId: keyId,
      reason: 'dynamodb.NewImage is missing (the stream must use NEW_IMAGE or NEW_AND_OLD_IMAGES)',
    };
  }
  let item: Record<string, unknown>;
  try {
    item = unmarshall(image as Record<string, AttributeValue>, { wrapNumbers: exactNumber });
  } catch (error) {
    return {
      kind: 'reject',
      eventId: keyId,
      reason: `dynamodb.NewImage cannot be decoded: ${(error as Error).message}`,
    };
  }

  const id = item.uuid;
  if (typeof id !== 'string' || id.length === 0) {
    return {
      kind: 'reject',
      eventId: keyId,
      reason: `NewImage.uuid must be a non-empty string (got ${JSON.stringify(id)})`,
    };
  }
  if (typeof item.originRegion !== 'string' || item.originRegion === '') {
    return {
      kind: 'reject',
      eventId: id,
      reason: `NewImage.originRegion must be the region the event happened in (got ${JSON.stringify(item.originRegion)})`,
    };
  }
  if (item.originRegion === targetRegion) {
    return { kind: 'skip', eventId: id, reason: `originRegion is this region ${targetRegion} (its own event)` };
  }
  const eventType = item.eventType;
  if (typeof eventType !== 'string' || !KNOWN_EVENT_TYPES.has(eventType)) {
    return {
      kind: 'reject',
      eventId: id,
      reason: `NewImage.eventType must be one of ${[...KNOWN_EVENT_TYPES].join(', ')} (got ${JSON.stringify(eventType)})`,
    };
  }
  if (typeof item.expires !== 'number' || !Number.isInteger(item.expires)) {
    // The failure record's TTL is derived from it inside the workflow.
    return {
      kind: 'reject',
      eventId: id,
      reason: `NewImage.expires must be whole epoch seconds (got ${JSON.stringify(item.expires)})`,
    };
  }

  const input = JSON.stringify({ eventId: id, event: item });
  const bytes = Buffer.byteLength(input, 'utf8');
  if (bytes > MAX_EXECUTION_INPUT_BYTES) {
    return {
      kind: 'reject',
      eventId: id,
      reason: `execution input is ${bytes} bytes; Step Functions accepts at most ${MAX_EXECUTION_INPUT_BYTES}`,
    };
  }
  const thingName = typeof item.thingName === 'string' ? item.thingName : undefined;
  return {
    kind: 'start',
    eventId: id,
    executionName: executionNameFor(id),
    input,
    ...(thingName ? { thingName } : {}),
  };
}
