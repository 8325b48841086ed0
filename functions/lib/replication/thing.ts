import {
  AttachThingPrincipalCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  DescribeThingTypeCommand,
  DetachThingPrincipalCommand,
  paginateListThingPrincipals,
  UpdateThingCommand,
  type DescribeThingCommandOutput,
} from '@aws-sdk/client-iot';
import { awsErrorName, isAlreadyExists } from '../aws';
import { PrincipalPendingError, RetryableError } from '../errors';
import { call, find, findAll, sameMap } from './call';
import { certificateIdFromArn, releaseCertificate, syncCertificate } from './certificates';
import { originDeleteStands, targetChangeWins, targetDeleteStands, targetDeleteWins } from './change-log';
import { absentMeansDeleted, keptTargetOnly, type Outcome, type ReplicationContext } from './context';
import { deleteAllShadows } from './shadow';
import { syncThingType, withThingTypeUsable } from './thing-type';

/** Options of `syncThing`. */
export interface SyncThingOptions {
  /**
   * Epoch milliseconds of the registry event that triggered the sync. In complete mode, a thing
   * without principals whose event is younger than `ctx.principalGraceMs` throws
   * `PrincipalPendingError` (its certificate is usually attached moments after the thing is
   * created; AWS IoT emits no registry event for the attachment, so the thing must be re-read).
   */
  readonly eventTimestampMs?: number;
  /**
   * Epoch milliseconds of the origin's registry event (any operation). Policy `merge`: a thing
   * the target deleted at or after it (a tombstone) is not re-created; on a DELETED event, a thing
   * the target created or updated after it is not deleted.
   */
  readonly eventTimeMs?: number;
  /** Replicate the registry entry only (type, attributes), never principals. @default false */
  readonly registryOnly?: boolean;
}

async function describeThing(ctx: ReplicationContext, side: 'origin' | 'target', thingName: string) {
  return find(ctx, `DescribeThing ${thingName} (${side})`, () => ctx[side].iot.send(new DescribeThingCommand({ thingName })));
}

async function thingPrincipals(ctx: ReplicationContext, side: 'origin' | 'target', thingName: string): Promise<string[] | undefined> {
  return findAll(
    ctx,
    `ListThingPrincipals ${thingName} (${side})`,
    paginateListThingPrincipals({ client: ctx[side].iot, pageSize: ctx.pageSize }, { thingName }),
    (page) => page.principals,
  );
}

/** Creates the thing type in the secondary when it is missing there (its properties come with it). */
async function ensureThingType(ctx: ReplicationContext, name: string): Promise<Outcome[]> {
  const exists = await find(ctx, `DescribeThingType ${name}`, () => ctx.target.iot.send(new DescribeThingTypeCommand({ thingTypeName: name })));
  return exists ? [] : syncThingType(ctx, name);
}

/**
 * Sends a CreateThing/UpdateThing that names thing type `typeName`. AWS refuses it
 * (InvalidRequestException) while that type is deprecated in the secondary, which it is whenever
 * it is deprecated in the primary: the write is then retried with the type temporarily
 * undeprecated (`withThingTypeUsable`). Returns a note when that happened.
 */
async function onType(ctx: ReplicationContext, typeName: string | undefined, send: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await send();
    return undefined;
  } catch (error) {
    if (!typeName || awsErrorName(error) !== 'InvalidRequestException') throw error;
  }
  await withThingTypeUsable(ctx, typeName, send);
  return `on deprecated thing type ${typeName} (undeprecated for the write, deprecated again)`;
}

async function upsertThing(ctx: ReplicationContext, source: DescribeThingCommandOutput): Promise<Outcome> {
  const thingName = source.thingName as string;
  const attributes = source.attributes ?? {};
  const target = await describeThing(ctx, 'target', thingName);
  if (!target) {
    try {
      const detail = await onType(ctx, source.thingTypeName, () =>
        ctx.target.iot.send(
          new CreateThingCommand({ thingName, thingTypeName: source.thingTypeName || undefined, attributePayload: { attributes } }),
        ),
      );
      return { kind: 'thing', name: thingName, action: 'created', ...(detail ? { detail } : {}) };
    } catch (error) {
      if (!isAlreadyExists(error)) return call(ctx, `CreateThing ${thingName}`, () => Promise.reject(error));
      return upsertThing(ctx, source); // created concurrently: compare and update
    }
  }
  const typeChanged = (source.thingTypeName ?? '') !== (target.thingTypeName ?? '');
  const attributesChanged = !sameMap(attributes, target.attributes);
  if (!typeChanged && !attributesChanged) return { kind: 'thing', name: thingName, action: 'unchanged' };
  const onDeprecated = await call(ctx, `UpdateThing ${thingName}`, () =>
    onType(ctx, typeChanged ? source.thingTypeName : undefined, () =>
      ctx.target.iot.send(
        new UpdateThingCommand({
          thingName,
          ...(typeChanged ? (source.thingTypeName ? { thingTypeName: source.thingTypeName } : { removeThingType: true }) : {}),
          // merge=false replaces the whole set: attributes removed in the primary disappear too.
          ...(attributesChanged ? { attributePayload: { attributes, merge: false } } : {}),
        }),
      ),
    ),
  );
  const changes = [typeChanged ? 'type' : '', attributesChanged ? 'attributes' : '', onDeprecated ?? ''].filter(Boolean).join(', ');
  return { kind: 'thing', name: thingName, action: 'updated', detail: changes };
}

async function syncPrincipals(ctx: ReplicationContext, thingName: string, options: SyncThingOptions, createdNow: boolean): Promise<Outcome[]> {
  const principals = (await thingPrincipals(ctx, 'origin', thingName)) ?? [];
  if (principals.length === 0 && options.eventTimestampMs !== undefined && Date.now() - options.eventTimestampMs < ctx.principalGraceMs) {
    const ageSeconds = Math.round((Date.now() - options.eventTimestampMs) / 1000);
    throw new PrincipalPendingError(`thing ${thingName} has no principal in the primary yet (event ${ageSeconds} s old, grace ${ctx.principalGraceMs / 1000} s)`, {
      context: { thingName, eventId: ctx.eventId },
    });
  }
  const outcomes: Outcome[] = [];
  const wanted = new Set<string>();
  for (const principal of principals) {
    const id = certificateIdFromArn(principal);
    if (!id) {
      outcomes.push({ kind: 'certificate', name: principal, action: 'skipped', detail: 'not an X.509 certificate principal' });
      continue;
    }
    const result = await syncCertificate(ctx, id);
    outcomes.push(...result.outcomes);
    if (!result.secondaryArn) continue;
    wanted.add(result.secondaryArn);
    await call(ctx, `AttachThingPrincipal ${thingName}`, () =>
      ctx.target.iot.send(new AttachThingPrincipalCommand({ thingName, principal: result.secondaryArn })),
    );
  }
  // A thing created just now has only the principals attached above: skip the listing.
  const present = createdNow ? [] : ((await thingPrincipals(ctx, 'target', thingName)) ?? []);
  for (const principal of present) {
    if (wanted.has(principal) || !certificateIdFromArn(principal)) continue;
    await find(ctx, `DetachThingPrincipal ${thingName}`, () => ctx.target.iot.send(new DetachThingPrincipalCommand({ thingName, principal })));
    outcomes.push(...(await releaseCertificate(ctx, principal, thingName)));
  }
  return outcomes;
}

/**
 * Creates (or updates) the thing's registry entry in the target from the origin's current one:
 * its thing type first (synced when missing), then type and attributes. Never principals: those
 * stay with the thing's own event (worker-thing) and reconciliation. Used where another
 * resource needs the thing to exist, e.g. a group membership that arrives before the thing's own
 * event. `undefined` when the origin does not have the thing (nothing to create).
 */
export async function ensureThing(ctx: ReplicationContext, thingName: string): Promise<Outcome[] | undefined> {
  const source = await describeThing(ctx, 'origin', thingName);
  if (!source) return undefined;
  const outcomes: Outcome[] = [];
  if (source.thingTypeName) outcomes.push(...(await ensureThingType(ctx, source.thingTypeName)));
  outcomes.push(await upsertThing(ctx, source));
  return outcomes;
}

/**
 * Deletes a thing from the secondary: principals detached (each certificate deleted when no
 * other thing uses it, each policy when nothing else is attached), classic and named shadows
 * deleted, then the thing.
 */
export async function deleteThing(ctx: ReplicationContext, thingName: string): Promise<Outcome[]> {
  const target = await describeThing(ctx, 'target', thingName);
  if (!target) return [{ kind: 'thing', name: thingName, action: 'unchanged', detail: 'absent in both regions' }];
  const outcomes: Outcome[] = [];
  for (const principal of (await thingPrincipals(ctx, 'target', thingName)) ?? []) {
    await find(ctx, `DetachThingPrincipal ${thingName}`, () => ctx.target.iot.send(new DetachThingPrincipalCommand({ thingName, principal })));
    // thing-only mode never manages certificates (nor has the permissions to).
    if (ctx.mode === 'complete' && certificateIdFromArn(principal)) outcomes.push(...(await releaseCertificate(ctx, principal, thingName)));
  }
  outcomes.push(...(await deleteAllShadows(ctx, thingName)));
  try {
    await ctx.target.iot.send(new DeleteThingCommand({ thingName }));
  } catch (error) {
    // Detaching principals propagates asynchronously; AWS refuses the delete until it has.
    if (awsErrorName(error) === 'InvalidRequestException') {
      throw new RetryableError(`DeleteThing ${thingName}: principals still detaching`, { cause: error, context: { thingName } });
    }
    await find(ctx, `DeleteThing ${thingName}`, () => Promise.reject(error));
  }
  outcomes.push({ kind: 'thing', name: thingName, action: 'deleted' });
  return outcomes;
}

/**
 * Makes the secondary's thing match the primary's current one: created, updated (type and
 * attributes, removals included) or deleted when the primary no longer has it. In complete
 * mode also its certificates and policies. Idempotent and independent of event order.
 */
export async function syncThing(ctx: ReplicationContext, thingName: string, options: SyncThingOptions = {}): Promise<Outcome[]> {
  const source = await describeThing(ctx, 'origin', thingName);
  const resource = { kind: 'thing', name: thingName } as const;
  if (!source) {
    const target = await describeThing(ctx, 'target', thingName);
    if (!target) return [{ kind: 'thing', name: thingName, action: 'unchanged', detail: 'absent in both regions' }];
    if (!absentMeansDeleted(ctx)) {
      // No DELETED event (a drift pass): the origin's known delete, unless the target changed
      // the thing since, is applied as its event would have been.
      if (options.eventTimeMs === undefined && (await originDeleteStands(ctx, resource)) !== undefined) return deleteThing(ctx, thingName);
      return [keptTargetOnly('thing', thingName)];
    }
    // Policy merge, a DELETED event: a change of the target's own after the delete wins.
    const kept = await targetChangeWins(ctx, resource, options.eventTimeMs);
    return kept ? [kept] : deleteThing(ctx, thingName);
  }
  if (ctx.conflicts === 'merge' && ctx.changes && !(await describeThing(ctx, 'target', thingName))) {
    // A delete in the target at or after the origin's change wins: not re-created. Without an
    // event (a drift pass), the target's last delete wins unless the origin changed it since.
    const deleted = options.eventTimeMs !== undefined ? await targetDeleteWins(ctx, resource, options.eventTimeMs) : await targetDeleteStands(ctx, resource);
    if (deleted) return [deleted];
  }
  const outcomes: Outcome[] = [];
  if (source.thingTypeName) outcomes.push(...(await ensureThingType(ctx, source.thingTypeName)));
  const thing = await upsertThing(ctx, source);
  outcomes.push(thing);
  if (ctx.mode === 'complete' && !options.registryOnly) outcomes.push(...(await syncPrincipals(ctx, thingName, options, thing.action === 'created')));
  return outcomes;
}

