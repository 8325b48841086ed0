/**
 * The capture rules, emulated at the API level for `iot-dr drill` and the two-way tests: moto has
 * no IoT rules engine, so a recording proxy sits between every client and moto and turns each
 * successful registry or shadow write into the table item the region's capture rule would write
 * (the documented registry-event and accepted-document shapes, plus the bookkeeping fields; see
 * stacks/registry-capture.ts). It applies the rules' WHERE clause the same way: a shadow update
 * whose clientToken starts with `iot-dr:` (the replicator's own write) is not captured.
 * Registry events cannot carry such a marker, so the replicator's registry writes ARE captured,
 * as on AWS: replicating them back is the one no-op round two-way replication allows. Items get
 * the conflict rule's keys the rules' SQL writes: `deletedKey` on deletes, `changedKey` on thing
 * and group creates/updates, `removedKey` on shadow updates that remove a key.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHANGED_KEY_ATTRIBUTE, DELETED_KEY_ATTRIBUTE, REMOVED_KEY_ATTRIBUTE, REPLICATOR_CLIENT_TOKEN_PREFIX } from '../../functions/lib/markers';
import { membershipEvent, shadowEvent, thingEvent, thingGroupEvent, thingTypeEvent, type TableItem } from './events';

/** A running capture proxy. */
export interface CaptureProxy {
  /** Give this endpoint to every client whose writes are to be captured. */
  readonly endpoint: string;
  /** Items captured since the last drain, in the order the writes completed. */
  drain(): TableItem[];
  /** Shadow updates the rules' WHERE clause dropped (the replicator's own writes). */
  readonly dropped: { count: number };
  stop(): Promise<void>;
}

const SCOPE = /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\//;

const parse = (body: Buffer): Record<string, unknown> => {
  try {
    const value = JSON.parse(body.toString('utf8') || '{}');
    return typeof value === 'object' && value !== null ? value : {};
  } catch {
    return {};
  }
};

/** The item a capture rule would write for one successful write, or undefined (not captured). */
function capture(region: string, service: string, method: string, url: URL, req: Buffer, res: Buffer, dropped: { count: number }): TableItem | undefined {
  const path = decodeURIComponent(url.pathname).split('/').filter(Boolean);
  if (service === 'iotdata' && path[0] === 'things' && path[2] === 'shadow' && (method === 'POST' || method === 'DELETE')) {
    const thing = path[1];
    const shadowName = url.searchParams.get('name') ?? '';
    const accepted = parse(res);
    if (method === 'DELETE') {
      const item = shadowEvent(region, 'delete', thing, shadowName, { version: Number(accepted.version ?? 0), timestamp: Number(accepted.timestamp) || undefined });
      return { ...item, [DELETED_KEY_ATTRIBUTE]: `shadow/${thing}/${shadowName}` };
    }
    const requested = parse(req);
    const clientToken = typeof requested.clientToken === 'string' ? requested.clientToken : undefined;
    if (clientToken?.startsWith(REPLICATOR_CLIENT_TOKEN_PREFIX)) {
      dropped.count++;
      return undefined;
    }
    // The accepted document carries the REQUESTED state (nulls included) and its metadata.
    const item = shadowEvent(region, 'update', thing, shadowName, {
      state: (requested.state as Record<string, unknown>) ?? {},
      version: Number(accepted.version ?? 0),
      timestamp: Number(accepted.timestamp) || undefined,
      clientToken,
    });
    // The rules' removal test (removalKeySql): `state` Null, or its JSON holding `:null`. JSON.stringify
    // stands in for the rules engine's Object-to-String cast (both compact JSON, nulls unquoted).
    const removes = requested.state === null || /:[ ]*null/.test(JSON.stringify(requested.state ?? {}));
    return { ...item, metadata: accepted.metadata ?? {}, ...(removes ? { [REMOVED_KEY_ATTRIBUTE]: `shadow/${thing}/${shadowName}` } : {}) };
  }
  if (service !== 'iot') return undefined;
  const op = method === 'POST' ? 'CREATED' : method === 'PATCH' ? 'UPDATED' : method === 'DELETE' ? 'DELETED' : undefined;
  // The registry rule's keys (registryKeySql): deletedKey on deletes, changedKey on creates/updates.
  const tombstone = (family: string, name: string) => ({ [op === 'DELETED' ? DELETED_KEY_ATTRIBUTE : CHANGED_KEY_ATTRIBUTE]: `${family}/${name}` });
  if (path[0] === 'things' && path.length === 2 && op) return { ...thingEvent(region, op, { name: path[1] }), ...tombstone('thing', path[1]) };
  if (path[0] === 'thing-groups' && method === 'PUT' && (path[1] === 'addThingToThingGroup' || path[1] === 'removeThingFromThingGroup')) {
    const body = parse(req);
    const added = path[1] === 'addThingToThingGroup';
    // An ADDED membership is a change of the thing (MEMBERSHIP_ADDED_CHANGE_SQL).
    return { ...membershipEvent(region, added ? 'ADDED' : 'REMOVED', String(body.thingGroupName), String(body.thingName)), ...(added ? { [CHANGED_KEY_ATTRIBUTE]: `thing/${String(body.thingName)}` } : {}) };
  }
  if (path[0] === 'thing-groups' && path.length === 2 && op) return { ...thingGroupEvent(region, op, { name: path[1] }), ...tombstone('thingGroup', path[1]) };
  // Thing types: DeprecateThingType (undo included) is an `updated` event, as on AWS.
  if (path[0] === 'thing-types' && path.length === 3 && path[2] === 'deprecate' && method === 'POST') {
    return { ...thingTypeEvent(region, 'UPDATED', { name: path[1], deprecated: parse(req).undoDeprecate !== true }), [CHANGED_KEY_ATTRIBUTE]: `thingType/${path[1]}` };
  }
  if (path[0] === 'thing-types' && path.length === 2 && op) return { ...thingTypeEvent(region, op, { name: path[1] }), ...tombstone('thingType', path[1]) };
  return undefined;
}

const readAll = async (stream: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * Starts the proxy on loopback in front of `upstream` (moto server's endpoint). `store`, when
 * given, receives every captured item as the rule's DynamoDB action would write it (tests put
 * them into the region's copy of the replication table, where the tombstone index finds them).
 */
export async function startCaptureProxy(
  upstream: string,
  store?: (item: TableItem) => Promise<void>,
  options: {
    /**
     * The registry events' clock (epoch ms; AWS stamps them): tests pin it to make two events in
     * two regions simultaneous. Shadow times come from the shadow service (moto). @default Date.now
     */
    readonly clock?: () => number;
  } = {},
): Promise<CaptureProxy> {
  const target = new URL(upstream);
  let captured: TableItem[] = [];
  const dropped = { count: 0 };
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readAll(req);
      const upstreamRes = await new Promise<IncomingMessage>((resolve, reject) => {
        const out = request(
          { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
          resolve,
        );
        out.on('error', reject);
        out.end(body);
      });
      const answer = await readAll(upstreamRes);
      const status = upstreamRes.statusCode ?? 502;
      if (status >= 200 && status < 300) {
        const scope = SCOPE.exec(String(req.headers.authorization ?? ''));
        if (scope) {
          const raw = capture(scope[1], scope[2], req.method ?? 'GET', new URL(req.url ?? '/', 'http://x'), body, answer, dropped);
          const item = raw && options.clock && raw.eventType !== 'SHADOW_EVENT' ? { ...raw, timestamp: options.clock() } : raw;
          if (item) {
            captured.push(item);
            if (store) await store(item);
          }
        }
      }
      res.writeHead(status, upstreamRes.headers);
      res.end(answer);
    } catch (error) {
      res.writeHead(502);
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    dropped,
    drain() {
      const out = captured;
      captured = [];
      return out;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
