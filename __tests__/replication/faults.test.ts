// Faults moto cannot produce: throttling, 5xx, AWS's 5-minute wait before deleting a deprecated
// thing type, and UpdateThingType (not implemented by moto 5.2.5). These use aws-sdk-client-mock
// (the only tests here that do), because an emulator that answers every call cannot fail them.
import {
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeThingCommand,
  DescribeThingTypeCommand,
  InternalFailureException,
  InvalidRequestException,
  IoTClient,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
  UnauthorizedException,
  UpdateThingTypeCommand,
} from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient, ThrottlingException as DataThrottlingException } from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import { RetryableError, ReplicationError } from '../../functions/lib/errors';
import { isTransient } from '../../functions/lib/aws';
import { applyEvent, createContext } from '../../functions/lib/replication';
import { PRIMARY, silentLogger, thingEvent, thingTypeEvent, shadowEvent } from '../support/fleet';

const iot = mockClient(IoTClient);
const data = mockClient(IoTDataPlaneClient);
const ctx = createContext({
  primaryRegion: 'us-east-1',
  secondaryRegion: 'us-west-2',
  mode: 'complete',
  endpoint: 'http://127.0.0.1:9', // never reached: every client is mocked
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  logger: silentLogger(),
});
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode }, message: 'injected' });

beforeEach(() => {
  iot.reset();
  data.reset();
});
afterAll(() => {
  iot.restore();
  data.restore();
});

describe('Replication: AWS faults', () => {
  it.each([
    ['ThrottlingException', () => new ThrottlingException(meta(400))],
    ['InternalFailureException (500)', () => new InternalFailureException(meta(500))],
    ['ServiceUnavailableException (503)', () => new ServiceUnavailableException(meta(503))],
    ['an unmodelled 502 from a proxy', () => Object.assign(new Error('Bad Gateway'), { name: 'Unknown', $metadata: { httpStatusCode: 502 } })],
  ])('classifies %s from the IoT API as RetryableError', async (_label, fault) => {
    iot.on(DescribeThingCommand).rejects(fault());
    const error = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 't' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ name: 'RetryableError' });
    expect((error as Error).message).toContain('DescribeThing t (primary)');
    expect((error as Error).cause).toBeDefined();
  });

  it('classifies a throttled shadow read as RetryableError', async () => {
    data.on(GetThingShadowCommand).rejects(new DataThrottlingException(meta(429)));
    await expect(applyEvent(ctx, shadowEvent(PRIMARY, 'update', 't', '', { version: 1 }), 'e-1')).rejects.toBeInstanceOf(RetryableError);
  });

  it('classifies a permanent failure (unauthorized) as ReplicationError, not retryable', async () => {
    iot.on(DescribeThingCommand).rejects(new UnauthorizedException(meta(401)));
    const error = await applyEvent(ctx, thingEvent(PRIMARY, 'UPDATED', { name: 't' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplicationError);
    expect(isTransient(error)).toBe(false);
  });

  it('retries a thing type delete AWS refuses within 5 minutes of deprecation', async () => {
    // primary: gone; secondary: present, not deprecated yet
    let calls = 0;
    iot.on(DescribeThingTypeCommand).callsFake(async () => {
      calls++;
      if (calls === 1) throw new ResourceNotFoundException(meta(404));
      return { thingTypeName: 'old', thingTypeMetadata: { deprecated: false } };
    });
    iot.on(DeprecateThingTypeCommand).resolves({});
    iot.on(DeleteThingTypeCommand).rejects(new InvalidRequestException({ ...meta(400), message: 'Thing type was deprecated less than 5 minutes ago' }));

    const error = await applyEvent(ctx, thingTypeEvent(PRIMARY, 'DELETED', { name: 'old' }), 'e-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(iot.commandCalls(DeprecateThingTypeCommand)[0].args[0].input).toEqual({ thingTypeName: 'old' });
  });

  it('updates description and searchable attributes with UpdateThingType (moto lacks it)', async () => {
    let calls = 0;
    iot.on(DescribeThingTypeCommand).callsFake(async () => {
      calls++;
      return calls === 1
        ? { thingTypeName: 'm', thingTypeProperties: { thingTypeDescription: 'new', searchableAttributes: ['a', 'b'] }, thingTypeMetadata: { deprecated: false } }
        : { thingTypeName: 'm', thingTypeProperties: { thingTypeDescription: 'old', searchableAttributes: ['a'] }, thingTypeMetadata: { deprecated: false } };
    });
    iot.on(UpdateThingTypeCommand).resolves({});
    const outcomes = await applyEvent(ctx, thingTypeEvent(PRIMARY, 'UPDATED', { name: 'm' }), 'e-1');
    expect(outcomes).toEqual([{ kind: 'thingType', name: 'm', action: 'updated', detail: 'properties' }]);
    expect(iot.commandCalls(UpdateThingTypeCommand)[0].args[0].input).toEqual({
      thingTypeName: 'm',
      thingTypeProperties: { thingTypeDescription: 'new', searchableAttributes: ['a', 'b'] },
    });
  });
});
