// Fleet builders for the primary region on moto, and registry/shadow event items shaped as the
// capture rules write them into the replication table (not a test file).
// The builders and event items live in production code (`iot-dr drill` uses them): cli/drill/fleet.ts
// and cli/drill/events.ts; they are re-exported here with the test-only readers and the two-region setup.
import { DescribeThingCommand, DescribeThingGroupCommand, DescribeThingTypeCommand } from '@aws-sdk/client-iot';
import { GetThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Side } from '../../cli/drill/fleet';
import { createContext, type ReplicationContext, type ReplicationMode } from '../../functions/lib/replication';
import { FAKE_CREDENTIALS, motoIot, motoIotData } from './moto';

export * from '../../cli/drill/events';
export * from '../../cli/drill/fleet';

/** The shadow document in a region, or undefined when there is none. */
export async function readShadow(side: Side, thing: string, shadowName = ''): Promise<{ state: Record<string, unknown>; version: number } | undefined> {
  try {
    const result = await side.data.send(new GetThingShadowCommand({ thingName: thing, shadowName: shadowName || undefined }));
    return JSON.parse(Buffer.from(result.payload as Uint8Array).toString());
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeThing(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingCommand({ thingName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeGroup(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingGroupCommand({ thingGroupName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

export async function describeType(side: Side, name: string) {
  try {
    return await side.iot.send(new DescribeThingTypeCommand({ thingTypeName: name }));
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Two regions on one moto, and a replication context over them.

export const PRIMARY = 'us-east-1';
export const SECONDARY = 'us-west-2';

/** A logger that prints nothing (tests assert on outcomes, not on log lines). */
export const silentLogger = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

/** Primary and secondary clients on moto, and a replication context between them. */
export function twoRegions(endpoint: string, options: { mode?: ReplicationMode; principalGraceMs?: number; pageSize?: number } = {}) {
  const side = (region: string): Side => ({ region, iot: motoIot(endpoint, region), data: motoIotData(endpoint, region) });
  const ctx: ReplicationContext = createContext({
    originRegion: PRIMARY,
    targetRegion: SECONDARY,
    mode: options.mode ?? 'complete',
    endpoint,
    credentials: { ...FAKE_CREDENTIALS },
    maxAttempts: 1,
    logger: silentLogger(),
    principalGraceMs: options.principalGraceMs,
    pageSize: options.pageSize,
  });
  return { ctx, primary: side(PRIMARY), secondary: side(SECONDARY) };
}
