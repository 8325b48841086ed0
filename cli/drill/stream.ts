/**
 * Replica-stream records in the shape Lambda delivers them to the stream trigger (DynamoDB
 * Streams, `NEW_AND_OLD_IMAGES`, images marshalled), for `iot-dr drill`'s pipeline
 * (cli/drill/pipeline.ts) and re-exported to the tests by __tests__/workflow/harness.ts.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { ACCOUNT } from './events';

/** Where the records come from: the replica's region and table. */
export interface StreamSource {
  /** @default 'us-west-2' */
  readonly region?: string;
  /** @default 'iot-dr-events' */
  readonly table?: string;
}

let sequence = 1000;

/** The replica stream's ARN in `source`'s region. */
export function streamArn(source: StreamSource = {}): string {
  return `arn:aws:dynamodb:${source.region ?? 'us-west-2'}:${ACCOUNT}:table/${source.table ?? 'iot-dr-events'}/stream/2026-01-01T00:00:00.000`;
}

/** One replica-stream record for an item (sequence numbers increase across calls). */
export function streamRecord(
  image: object | undefined,
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE' = 'INSERT',
  source: StreamSource = {},
): DynamoDBRecord {
  sequence += 1;
  const uuid = (image as { uuid?: unknown } | undefined)?.uuid;
  return {
    eventID: `stream-${sequence}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: source.region ?? 'us-west-2',
    dynamodb: {
      ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
      ...(typeof uuid === 'string' ? { Keys: { uuid: { S: uuid } } } : {}),
      ...(image
        ? {
            NewImage: marshall(image, { removeUndefinedValues: true }) as NonNullable<
              DynamoDBRecord['dynamodb']
            >['NewImage'],
          }
        : {}),
      SequenceNumber: String(sequence).padStart(21, '0'),
      SizeBytes: 100,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: streamArn(source),
  };
}

export function streamEvent(records: DynamoDBRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}
