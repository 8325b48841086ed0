import {
  CreateThingTypeCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeThingTypeCommand,
  UpdateThingTypeCommand,
  type DescribeThingTypeCommandOutput,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { RetryableError } from '../errors';
import { call, find } from './call';
import { absentMeansDeleted, keptTargetOnly, type Outcome, type ReplicationContext } from './context';

async function describeType(ctx: ReplicationContext, side: 'origin' | 'target', name: string) {
  return find(ctx, `DescribeThingType ${name} (${side})`, () => ctx[side].iot.send(new DescribeThingTypeCommand({ thingTypeName: name })));
}

const sorted = (list: readonly string[] | undefined) => [...(list ?? [])].sort();

function sameProperties(a: DescribeThingTypeCommandOutput, b: DescribeThingTypeCommandOutput): boolean {
  const pa = a.thingTypeProperties ?? {};
  const pb = b.thingTypeProperties ?? {};
  return (
    (pa.thingTypeDescription ?? '') === (pb.thingTypeDescription ?? '') &&
    JSON.stringify(sorted(pa.searchableAttributes)) === JSON.stringify(sorted(pb.searchableAttributes))
  );
}

/**
 * Deletes a thing type from the secondary: deprecated first (AWS deletes only deprecated types),
 * then deleted. AWS refuses the delete for five minutes after deprecation (and while things still
 * use the type): that refusal is a `RetryableError`, so the workflow's backoff (or reconciliation)
 * finishes the job instead of a sleep inside the Lambda.
 * https://docs.aws.amazon.com/iot/latest/developerguide/delete-thing-types.html
 */
async function deleteThingType(ctx: ReplicationContext, name: string): Promise<Outcome[]> {
  const target = await describeType(ctx, 'target', name);
  if (!target) return [{ kind: 'thingType', name, action: 'unchanged', detail: 'absent in both regions' }];
  if (!target.thingTypeMetadata?.deprecated) {
    await call(ctx, `DeprecateThingType ${name}`, () => ctx.target.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name })));
  }
  try {
    await ctx.target.iot.send(new DeleteThingTypeCommand({ thingTypeName: name }));
  } catch (error) {
    if (awsErrorName(error) === 'InvalidRequestException') {
      throw new RetryableError(`DeleteThingType ${name}: refused (deprecated less than 5 minutes ago, or still in use)`, { cause: error });
    }
    await find(ctx, `DeleteThingType ${name}`, () => Promise.reject(error));
  }
  return [{ kind: 'thingType', name, action: 'deleted' }];
}

/**
 * Makes the secondary's thing type match the primary's: description, searchable attributes and
 * deprecation; created when missing, deleted when the primary no longer has it.
 */
export async function syncThingType(ctx: ReplicationContext, name: string): Promise<Outcome[]> {
  const source = await describeType(ctx, 'origin', name);
  if (!source) return absentMeansDeleted(ctx) ? deleteThingType(ctx, name) : [keptTargetOnly('thingType', name)];
  const properties = {
    ...(source.thingTypeProperties?.thingTypeDescription ? { thingTypeDescription: source.thingTypeProperties.thingTypeDescription } : {}),
    ...(source.thingTypeProperties?.searchableAttributes?.length ? { searchableAttributes: source.thingTypeProperties.searchableAttributes } : {}),
  };
  const deprecated = source.thingTypeMetadata?.deprecated === true;
  let target = await describeType(ctx, 'target', name);
  const outcomes: Outcome[] = [];
  if (!target) {
    try {
      await ctx.target.iot.send(new CreateThingTypeCommand({ thingTypeName: name, thingTypeProperties: properties }));
      outcomes.push({ kind: 'thingType', name, action: 'created' });
      target = { thingTypeProperties: properties, thingTypeMetadata: { deprecated: false }, $metadata: {} };
    } catch (error) {
      if (!isAlreadyExists(error)) await call(ctx, `CreateThingType ${name}`, () => Promise.reject(error));
      return syncThingType(ctx, name);
    }
  } else if (!sameProperties(source, target)) {
    await call(ctx, `UpdateThingType ${name}`, () =>
      ctx.target.iot.send(new UpdateThingTypeCommand({ thingTypeName: name, thingTypeProperties: properties })),
    );
    outcomes.push({ kind: 'thingType', name, action: 'updated', detail: 'properties' });
  }
  if ((target.thingTypeMetadata?.deprecated === true) !== deprecated) {
    await call(ctx, `DeprecateThingType ${name}`, () =>
      ctx.target.iot.send(new DeprecateThingTypeCommand({ thingTypeName: name, undoDeprecate: !deprecated })),
    );
    if (!outcomes.length) outcomes.push({ kind: 'thingType', name, action: 'updated', detail: deprecated ? 'deprecated' : 'undeprecated' });
  }
  return outcomes.length ? outcomes : [{ kind: 'thingType', name, action: 'unchanged' }];
}
