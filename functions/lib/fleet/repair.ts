/**
 * Converging one thing (and everything hanging off it) through the replication library: used by
 * `iot-dr copy` and by the reconciliation job, so both repair exactly as the workers replicate.
 * This module only decides WHAT to sync; every copy rule lives in `../replication`.
 */
import { paginateListThingGroupsForThing } from '@aws-sdk/client-iot';
import { ListNamedShadowsForThingCommand } from '@aws-sdk/client-iot-data-plane';
import { syncShadow, syncThing, syncThingGroupMembership, type Outcome, type ReplicationContext } from '../replication';
import type { RegionClients } from './model';
import { isNotFound } from './snapshot';

const asArray = (o: Outcome | Outcome[] | undefined): Outcome[] => (o === undefined ? [] : Array.isArray(o) ? o : [o]);

/** Names of a thing's named shadows (all pages); none when the thing does not exist. */
export async function namedShadowNames(clients: Pick<RegionClients, 'data'>, thingName: string): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await clients.data.send(
        new ListNamedShadowsForThingCommand({ thingName, nextToken, pageSize: 100 }),
      );
      names.push(...(page.results ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return names;
}

/** Static groups a thing belongs to (all pages); none when the thing does not exist. */
export async function thingGroupNames(clients: Pick<RegionClients, 'iot'>, thingName: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const page of paginateListThingGroupsForThing({ client: clients.iot }, { thingName })) {
      for (const g of page.thingGroups ?? []) if (g.groupName) names.push(g.groupName);
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return names;
}

/**
 * Makes one thing in the target region match the origin (`staleBefore`: see `SyncShadowOptions`): `syncThing` (type, attributes, and in
 * complete mode certificates, policies, attachments; deletion when the primary lost it), then
 * `syncThingGroupMembership` for every group either region puts it in, then `syncShadow` for the
 * classic shadow and every named shadow either region has.
 */
export async function repairThing(ctx: ReplicationContext, thingName: string, options: { readonly staleBefore?: number } = {}): Promise<Outcome[]> {
  const outcomes = asArray(await syncThing(ctx, thingName));
  if (outcomes.some((o) => o.kind === 'thing' && o.name === thingName && o.action === 'deleted')) return outcomes;
  // A thing created just now has no groups or shadows in the secondary: two calls saved per thing.
  const fresh = outcomes.some((o) => o.kind === 'thing' && o.name === thingName && o.action === 'created');
  const [pGroups, sGroups, pShadows, sShadows] = await Promise.all([
    thingGroupNames(ctx.origin, thingName),
    fresh ? [] : thingGroupNames(ctx.target, thingName),
    namedShadowNames(ctx.origin, thingName),
    fresh ? [] : namedShadowNames(ctx.target, thingName),
  ]);
  for (const group of [...new Set([...pGroups, ...sGroups])].sort()) {
    outcomes.push(...asArray(await syncThingGroupMembership(ctx, group, thingName)));
  }
  for (const shadow of ['', ...[...new Set([...pShadows, ...sShadows])].sort()]) {
    outcomes.push(...asArray(await syncShadow(ctx, thingName, shadow, { staleBefore: options.staleBefore })));
  }
  return outcomes;
}

/** Parents before children, so every group's parent exists when the group is synced. */
export function groupLevels(groups: ReadonlyMap<string, { parent: string | null }>): string[][] {
  const depth = new Map<string, number>();
  const depthOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    seen.add(name);
    const parent = groups.get(name)?.parent;
    const d = parent && groups.has(parent) && !seen.has(parent) ? depthOf(parent, seen) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const levels: string[][] = [];
  for (const name of [...groups.keys()].sort()) {
    const d = depthOf(name, new Set());
    if (!levels[d]) levels[d] = [];
    levels[d].push(name);
  }
  return levels.filter(Boolean);
}

/** Counts outcomes: kind → action → n. */
export function countOutcomes(
  outcomes: readonly Outcome[],
  into: Record<string, Record<string, number>> = {},
): Record<string, Record<string, number>> {
  for (const o of outcomes) {
    if (!into[o.kind]) into[o.kind] = {};
    into[o.kind][o.action] = (into[o.kind][o.action] ?? 0) + 1;
  }
  return into;
}

/** Outcomes that changed something in the secondary. */
export const changed = (outcomes: readonly Outcome[]) =>
  outcomes.filter((o) => o.action !== 'unchanged' && o.action !== 'skipped');
