/**
 * Fleet indexing as a bulk source of the primary's things: one SearchIndex call returns up to 100
 * things (the API reference: "This maximum number cannot exceed 100") with thing type, attributes,
 * thing group names and, when the index holds them, shadows. `iot-dr copy` reads the things page by
 * page through it and answers the replication library's per-thing origin reads that the index
 * covers from the page ({@link IndexedOrigin}), instead of one call per thing and operation.
 *
 * What the index holds is set by the region's indexing configuration (GetIndexingConfiguration):
 * - `thingIndexingMode` REGISTRY: name, id, type, attributes, thing group names;
 *   REGISTRY_AND_SHADOW: and the classic shadow (desired, reported, metadata, version);
 * - `namedShadowIndexingMode` ON: and the named shadows listed in `filter.namedShadowNames` (10
 *   names per account by default), no others.
 * https://docs.aws.amazon.com/iot/latest/apireference/API_SearchIndex.html
 * https://docs.aws.amazon.com/iot/latest/apireference/API_ThingIndexingConfiguration.html
 * https://docs.aws.amazon.com/iot/latest/developerguide/managing-fleet-index.html
 *
 * The index is eventually consistent: it follows registry and shadow changes seconds later. A
 * page is used within seconds of being read, and the existence, type and attributes of each thing
 * (DescribeThing) and its principals are still read from the registry; `iot-dr verify`, which
 * decides whether the regions match, never reads the index.
 */
import { GetIndexingConfigurationCommand, SearchIndexCommand, type IoTClient } from '@aws-sdk/client-iot';
import { ResourceNotFoundException, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';

/** What the region's thing index holds (GetIndexingConfiguration). */
export interface ThingIndexing {
  /** Things are indexed (thingIndexingMode REGISTRY or REGISTRY_AND_SHADOW). */
  readonly registry: boolean;
  /** The classic shadow is indexed (REGISTRY_AND_SHADOW). */
  readonly classicShadow: boolean;
  /** Named shadows indexed (namedShadowIndexingMode ON): `filter.namedShadowNames`. */
  readonly namedShadows: readonly string[];
}

/** Reads the region's thing indexing configuration. */
export async function thingIndexing(clients: { readonly iot: IoTClient }): Promise<ThingIndexing> {
  const res = await clients.iot.send(new GetIndexingConfigurationCommand({}));
  const c = res.thingIndexingConfiguration;
  const mode = c?.thingIndexingMode ?? 'OFF';
  return {
    registry: mode === 'REGISTRY' || mode === 'REGISTRY_AND_SHADOW',
    classicShadow: mode === 'REGISTRY_AND_SHADOW',
    namedShadows: mode !== 'OFF' && c?.namedShadowIndexingMode === 'ON' ? [...(c.filter?.namedShadowNames ?? [])].sort() : [],
  };
}

/** A shadow as GetThingShadow returns it (the part replication reads). */
export interface IndexedShadow {
  readonly state: { readonly desired?: unknown; readonly reported?: unknown; readonly delta?: unknown };
  readonly metadata?: unknown;
  readonly version?: number;
}

/** One thing of the index. */
export interface IndexedThing {
  readonly name: string;
  readonly thingId?: string;
  readonly type: string | null;
  readonly attributes: Readonly<Record<string, string>>;
  /** Thing group names as the index has them (AWS also lists billing groups here). */
  readonly groupNames: readonly string[];
  /** Shadows the index holds, by name ('' = classic); only those `indexing` says are indexed. */
  readonly shadows: Readonly<Record<string, IndexedShadow>>;
}

/** AWS's largest SearchIndex page. */
export const SEARCH_PAGE_MAX = 100;

type IndexedShadowPart = { desired?: unknown; reported?: unknown; delta?: unknown; metadata?: unknown; version?: number };

function shadowOf(part: IndexedShadowPart | undefined): IndexedShadow | undefined {
  if (!part || typeof part !== 'object' || (part.desired === undefined && part.reported === undefined)) return undefined;
  return {
    state: {
      ...(part.desired !== undefined ? { desired: part.desired } : {}),
      ...(part.reported !== undefined ? { reported: part.reported } : {}),
      ...(part.delta !== undefined ? { delta: part.delta } : {}),
    },
    ...(part.metadata !== undefined ? { metadata: part.metadata } : {}),
    ...(typeof part.version === 'number' ? { version: part.version } : {}),
  };
}

/**
 * The shadows of a ThingDocument's `shadow` JSON: the classic shadow's fields at the top level,
 * named shadows under `name`. Only what `indexing` says the index holds is kept.
 */
export function indexedShadows(json: string | undefined, indexing: ThingIndexing): Record<string, IndexedShadow> {
  if (!json) return {};
  let doc: IndexedShadowPart & { name?: Record<string, IndexedShadowPart> };
  try {
    doc = JSON.parse(json) as typeof doc;
  } catch {
    return {};
  }
  const out: Record<string, IndexedShadow> = {};
  const classic = indexing.classicShadow ? shadowOf(doc) : undefined;
  if (classic) out[''] = classic;
  for (const name of indexing.namedShadows) {
    const named = shadowOf(doc.name?.[name]);
    if (named) out[name] = named;
  }
  return out;
}

/** The things matching `queryString`, one page (at most `pageSize`) at a time. */
export async function* searchThingPages(
  clients: { readonly iot: IoTClient },
  queryString: string,
  indexing: ThingIndexing,
  pageSize = SEARCH_PAGE_MAX,
): AsyncGenerator<IndexedThing[]> {
  let nextToken: string | undefined;
  do {
    const page = await clients.iot.send(
      new SearchIndexCommand({ indexName: 'AWS_Things', queryString, maxResults: Math.min(pageSize, SEARCH_PAGE_MAX), nextToken }),
    );
    yield (page.things ?? []).flatMap((t) =>
      t.thingName
        ? [
            {
              name: t.thingName,
              ...(t.thingId ? { thingId: t.thingId } : {}),
              type: t.thingTypeName ?? null,
              attributes: { ...(t.attributes ?? {}) },
              groupNames: [...(t.thingGroupNames ?? [])],
              shadows: indexedShadows(t.shadow, indexing),
            },
          ]
        : [],
    );
    nextToken = page.nextToken || undefined;
  } while (nextToken);
}

/** A client the answers can be added to (any SDK v3 client). */
interface MiddlewareClient {
  readonly middlewareStack: { add: (mw: unknown, options: unknown) => void };
}

type Answer = (commandName: string, input: Record<string, unknown>) => unknown;

/**
 * Adds a middleware at the very start of a client's stack (step `initialize`, before
 * serialization, retries, the rate limiter and signing) that answers a command itself when
 * `answer` returns an output (or throws), and lets it go to AWS when `answer` returns undefined.
 */
export function answerLocally(client: MiddlewareClient, name: string, answer: Answer): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: { input?: Record<string, unknown> }) => {
      const output = answer(context.commandName ?? '', args.input ?? {});
      if (output === undefined) return next(args);
      return { output: { $metadata: {}, ...(output as object) }, response: {} };
    },
    { step: 'initialize', name, priority: 'high', override: true },
  );
}

/**
 * The origin reads the index answers while a thing's page is held (`hold`, `release`):
 * - ListThingGroupsForThing: the index's thing group names that are static thing groups of the
 *   region (`staticGroups`: the index lists billing groups and dynamic groups there too, which
 *   membership replication does not copy);
 * - GetThingShadow of a shadow the index holds (classic with REGISTRY_AND_SHADOW, named ones in
 *   the named-shadow filter): its document, or ResourceNotFoundException when the index has none.
 * Everything else goes to AWS: DescribeThing (existence, type and attributes from the registry, so
 * a thing deleted after its page was read is not re-created), ListThingPrincipals (not indexed),
 * ListNamedShadowsForThing (the index cannot tell which named shadows it does not hold), and every
 * read of a thing whose page is not held.
 */
export class IndexedOrigin {
  private readonly things = new Map<string, IndexedThing>();
  /** Calls answered from the index instead of AWS, by operation. */
  readonly answered = new Map<string, number>();

  constructor(
    readonly indexing: ThingIndexing,
    private readonly staticGroups: ReadonlySet<string>,
  ) {}

  hold(things: readonly IndexedThing[]): void {
    for (const t of things) this.things.set(t.name, t);
  }

  release(name: string): void {
    this.things.delete(name);
  }

  /** Things held now. */
  get size(): number {
    return this.things.size;
  }

  private count(operation: string): void {
    this.answered.set(operation, (this.answered.get(operation) ?? 0) + 1);
  }

  /** The answer of the index to one origin read, or undefined when AWS must answer. */
  answer(commandName: string, input: Record<string, unknown>): unknown {
    const thing = typeof input.thingName === 'string' ? this.things.get(input.thingName) : undefined;
    if (!thing) return undefined;
    if (commandName === 'ListThingGroupsForThingCommand' && !input.nextToken) {
      this.count('ListThingGroupsForThing');
      return { thingGroups: thing.groupNames.filter((g) => this.staticGroups.has(g)).sort().map((groupName) => ({ groupName })) };
    }
    if (commandName === 'GetThingShadowCommand') {
      const shadowName = typeof input.shadowName === 'string' ? input.shadowName : '';
      const indexed = shadowName === '' ? this.indexing.classicShadow : this.indexing.namedShadows.includes(shadowName);
      if (!indexed) return undefined;
      this.count('GetThingShadow');
      const shadow = thing.shadows[shadowName];
      if (!shadow) {
        throw new ResourceNotFoundException({
          message: `No shadow exists with name: '${shadowName ? `${thing.name}~${shadowName}` : thing.name}' (fleet index)`,
          $metadata: { httpStatusCode: 404 },
        });
      }
      return { payload: new TextEncoder().encode(JSON.stringify(shadow)) };
    }
    return undefined;
  }

  /** Makes the origin clients consult the index first. */
  attach(origin: { readonly iot: IoTClient; readonly data: IoTDataPlaneClient }): void {
    const answer: Answer = (commandName, input) => this.answer(commandName, input);
    answerLocally(origin.iot as unknown as MiddlewareClient, 'iotDrIndexedOrigin', answer);
    answerLocally(origin.data as unknown as MiddlewareClient, 'iotDrIndexedOrigin', answer);
  }
}
