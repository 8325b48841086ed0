/**
 * OUR EMULATION of AWS IoT operations that moto (5.2.5) does not implement, answered by the
 * loopback proxy in front of moto (`./quota-proxy`) from an in-memory store per region; every other
 * request goes on to moto. This is not AWS: it follows the request/response shapes, HTTP status
 * codes and error types of the AWS IoT API reference, so the fleet tools can be tested against
 * the documented API until moto has it.
 *
 * - `ListCACertificates` (`GET /cacertificates`): moto registers, describes, updates and deletes
 *   CA certificates but cannot list them. The emulator learns the ids from the
 *   `RegisterCACertificate` answers and `DeleteCACertificate` calls that pass through it, and
 *   describes each one at moto when listing (so status and registration config are moto's).
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_ListCACertificates.html
 * - Provisioning templates (fleet provisioning and JITP), none of which moto has:
 *   Create/Describe/List/Update/DeleteProvisioningTemplate and
 *   Create/List/DeleteProvisioningTemplateVersion.
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplate.html
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_UpdateProvisioningTemplate.html
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_CreateProvisioningTemplateVersion.html
 *
 * - `SearchIndex` (`POST /indices/search`): moto matches things against the query but returns every
 *   match in one answer (no `maxResults`, no `nextToken`), answers whatever the indexing
 *   configuration says (also when thing indexing is OFF), puts every named shadow in the documents
 *   (indexed or not) and never the classic one, and adds fields a ThingDocument does not have
 *   (thingArn, version) and a `connectivity` that always says connected. The emulator asks moto for
 *   the matches and the indexing configuration (GetIndexingConfiguration, which moto keeps) and
 *   answers as the API reference documents: ResourceNotFoundException while thing indexing is OFF,
 *   `maxResults` from 1 to 100 ("This maximum number cannot exceed 100"), pages chained by
 *   `nextToken`, and in each ThingDocument thingName, thingId, thingTypeName, attributes,
 *   thingGroupNames, and `shadow` (JSON: the classic shadow's desired, reported, metadata, version
 *   and hasDelta at the top level with REGISTRY_AND_SHADOW, read from moto's shadow service; the
 *   named shadows of `filter.namedShadowNames` under `name` with namedShadowIndexingMode ON);
 *   `connectivity` only with thingConnectivityIndexingMode STATUS. Queries are moto's matching
 *   (thingName, thingTypeName, thingGroupNames, attributes.x, wildcards, AND/OR/NOT); the index is
 *   always up to date (AWS's lags the registry by seconds).
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_SearchIndex.html
 *   https://docs.aws.amazon.com/iot/latest/apireference/API_ThingDocument.html
 *
 * Known simplifications against AWS: the template body is only checked to be a JSON object (AWS
 * validates the template language and the role's trust), no IAM role is checked, markers and
 * tokens are plain offsets, and tags are accepted but not stored.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** moto's default account. */
const ACCOUNT = '123456789012';
/** Versions a template may have (AWS: 5). */
export const MAX_TEMPLATE_VERSIONS = 5;

/** The operations the emulator answers itself (SDK operation names). */
export const EMULATED_OPERATIONS: ReadonlySet<string> = new Set([
  'ListCACertificates',
  'SearchIndex',
  'CreateProvisioningTemplate',
  'DescribeProvisioningTemplate',
  'ListProvisioningTemplates',
  'UpdateProvisioningTemplate',
  'DeleteProvisioningTemplate',
  'CreateProvisioningTemplateVersion',
  'ListProvisioningTemplateVersions',
  'DeleteProvisioningTemplateVersion',
]);

interface TemplateVersion {
  readonly versionId: number;
  readonly body: string;
  readonly creationDate: number;
}

interface Template {
  readonly name: string;
  readonly arn: string;
  description?: string;
  readonly type: 'FLEET_PROVISIONING' | 'JITP';
  enabled: boolean;
  provisioningRoleArn: string;
  preProvisioningHook?: { targetArn: string; payloadVersion?: string };
  readonly creationDate: number;
  lastModifiedDate: number;
  defaultVersionId: number;
  nextVersionId: number;
  readonly versions: Map<number, TemplateVersion>;
}

interface RegionStore {
  readonly caIds: Set<string>;
  readonly templates: Map<string, Template>;
}

/** An answer of the emulator. */
export interface EmulatedAnswer {
  readonly status: number;
  readonly body?: unknown;
  /** Set on errors: the `x-amzn-ErrorType` header. */
  readonly errorType?: string;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new ApiError(400, 'InvalidRequestException', message);
const notFound = (message: string) => new ApiError(404, 'ResourceNotFoundException', message);
const TEMPLATE_NAME = /^[0-9A-Za-z_-]{1,36}$/;

/** Calls moto (same headers: moto does not check signatures); GET unless `method` says otherwise. */
export type UpstreamGet = (
  path: string,
  headers: IncomingMessage['headers'],
  method?: string,
  body?: string,
) => Promise<{ status: number; body: string }>;

/** The in-memory store and request handling of the emulated operations. */
export class IotEmulator {
  private readonly regions = new Map<string, RegionStore>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Forgets everything (moto's reset). */
  reset(): void {
    this.regions.clear();
  }

  private store(region: string): RegionStore {
    let s = this.regions.get(region);
    if (!s) {
      s = { caIds: new Set(), templates: new Map() };
      this.regions.set(region, s);
    }
    return s;
  }

  /** A CA certificate moto registered (seen in a RegisterCACertificate answer). */
  caRegistered(region: string, certificateId: string): void {
    this.store(region).caIds.add(certificateId);
  }

  caDeleted(region: string, certificateId: string): void {
    this.store(region).caIds.delete(certificateId);
  }

  /** Answers one emulated operation. */
  async handle(
    operation: string,
    region: string,
    url: URL,
    body: string,
    upstream: { get: UpstreamGet; headers: IncomingMessage['headers'] },
  ): Promise<EmulatedAnswer> {
    try {
      const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      return await this.dispatch(operation, region, url, input, upstream);
    } catch (err) {
      if (err instanceof ApiError) return { status: err.status, errorType: err.errorType, body: { message: err.message } };
      if (err instanceof SyntaxError) return { status: 400, errorType: 'InvalidRequestException', body: { message: 'Request body is not JSON' } };
      throw err;
    }
  }

  private async dispatch(
    operation: string,
    region: string,
    url: URL,
    input: Record<string, unknown>,
    upstream: { get: UpstreamGet; headers: IncomingMessage['headers'] },
  ): Promise<EmulatedAnswer> {
    const store = this.store(region);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const nowSeconds = this.now() / 1000;
    const template = (name: string) => {
      const t = store.templates.get(name);
      if (!t) throw notFound(`The provisioning template ${name} does not exist`);
      return t;
    };
    switch (operation) {
      case 'ListCACertificates':
        return this.listCaCertificates(region, url, upstream);
      case 'SearchIndex':
        return this.searchIndex(input, upstream);
      case 'CreateProvisioningTemplate': {
        const name = String(input.templateName ?? '');
        if (!TEMPLATE_NAME.test(name)) throw invalid('templateName must match ^[0-9A-Za-z_-]+$ (1 to 36 characters)');
        const bodyText = templateBody(input.templateBody);
        if (typeof input.provisioningRoleArn !== 'string' || !input.provisioningRoleArn.startsWith('arn:'))
          throw invalid('provisioningRoleArn is required and must be an ARN');
        const type = input.type === undefined ? 'FLEET_PROVISIONING' : input.type;
        if (type !== 'FLEET_PROVISIONING' && type !== 'JITP') throw invalid('type must be FLEET_PROVISIONING or JITP');
        const hook = preProvisioningHook(input.preProvisioningHook);
        if (hook && type === 'JITP') throw invalid('A pre-provisioning hook is only supported by fleet provisioning templates');
        if (store.templates.has(name))
          throw new ApiError(409, 'ResourceAlreadyExistsException', `The provisioning template ${name} already exists`);
        const t: Template = {
          name,
          arn: `arn:aws:iot:${region}:${ACCOUNT}:provisioningtemplate/${name}`,
          ...(typeof input.description === 'string' ? { description: input.description } : {}),
          type,
          enabled: input.enabled === true,
          provisioningRoleArn: input.provisioningRoleArn,
          ...(hook ? { preProvisioningHook: hook } : {}),
          creationDate: nowSeconds,
          lastModifiedDate: nowSeconds,
          defaultVersionId: 1,
          nextVersionId: 2,
          versions: new Map([[1, { versionId: 1, body: bodyText, creationDate: nowSeconds }]]),
        };
        store.templates.set(name, t);
        return { status: 200, body: { templateArn: t.arn, templateName: name, defaultVersionId: 1 } };
      }
      case 'DescribeProvisioningTemplate': {
        const t = template(segments[1]);
        return {
          status: 200,
          body: {
            templateArn: t.arn,
            templateName: t.name,
            ...(t.description !== undefined ? { description: t.description } : {}),
            creationDate: t.creationDate,
            lastModifiedDate: t.lastModifiedDate,
            defaultVersionId: t.defaultVersionId,
            templateBody: t.versions.get(t.defaultVersionId)?.body,
            enabled: t.enabled,
            provisioningRoleArn: t.provisioningRoleArn,
            ...(t.preProvisioningHook ? { preProvisioningHook: t.preProvisioningHook } : {}),
            type: t.type,
          },
        };
      }
      case 'ListProvisioningTemplates': {
        const all = [...store.templates.values()].sort((a, b) => a.name.localeCompare(b.name));
        const { items, nextToken } = page(all, url, 'maxResults', 'nextToken', 250);
        return {
          status: 200,
          body: {
            templates: items.map((t) => ({
              templateArn: t.arn,
              templateName: t.name,
              ...(t.description !== undefined ? { description: t.description } : {}),
              creationDate: t.creationDate,
              lastModifiedDate: t.lastModifiedDate,
              enabled: t.enabled,
              type: t.type,
            })),
            ...(nextToken ? { nextToken } : {}),
          },
        };
      }
      case 'UpdateProvisioningTemplate': {
        const t = template(segments[1]);
        const hook = preProvisioningHook(input.preProvisioningHook);
        if (hook && input.removePreProvisioningHook === true)
          throw invalid('preProvisioningHook and removePreProvisioningHook cannot both be set');
        if (hook && t.type === 'JITP') throw invalid('A pre-provisioning hook is only supported by fleet provisioning templates');
        if (input.defaultVersionId !== undefined && !t.versions.has(Number(input.defaultVersionId)))
          throw notFound(`Version ${String(input.defaultVersionId)} of provisioning template ${t.name} does not exist`);
        if (input.provisioningRoleArn !== undefined && (typeof input.provisioningRoleArn !== 'string' || !input.provisioningRoleArn.startsWith('arn:')))
          throw invalid('provisioningRoleArn must be an ARN');
        if (typeof input.description === 'string') t.description = input.description;
        if (typeof input.enabled === 'boolean') t.enabled = input.enabled;
        if (input.defaultVersionId !== undefined) t.defaultVersionId = Number(input.defaultVersionId);
        if (typeof input.provisioningRoleArn === 'string') t.provisioningRoleArn = input.provisioningRoleArn;
        if (hook) t.preProvisioningHook = hook;
        if (input.removePreProvisioningHook === true) delete t.preProvisioningHook;
        t.lastModifiedDate = nowSeconds;
        return { status: 200, body: {} };
      }
      case 'DeleteProvisioningTemplate':
        template(segments[1]);
        store.templates.delete(segments[1]);
        return { status: 200, body: {} };
      case 'CreateProvisioningTemplateVersion': {
        const t = template(segments[1]);
        const bodyText = templateBody(input.templateBody);
        if (t.versions.size >= MAX_TEMPLATE_VERSIONS)
          throw new ApiError(409, 'VersionsLimitExceededException', `The provisioning template ${t.name} already has ${MAX_TEMPLATE_VERSIONS} versions`);
        const versionId = t.nextVersionId++;
        t.versions.set(versionId, { versionId, body: bodyText, creationDate: nowSeconds });
        const setAsDefault = url.searchParams.get('setAsDefault') === 'true';
        if (setAsDefault) t.defaultVersionId = versionId;
        t.lastModifiedDate = nowSeconds;
        return { status: 200, body: { templateArn: t.arn, templateName: t.name, versionId, isDefaultVersion: setAsDefault } };
      }
      case 'ListProvisioningTemplateVersions': {
        const t = template(segments[1]);
        const { items, nextToken } = page([...t.versions.values()], url, 'maxResults', 'nextToken', 250);
        return {
          status: 200,
          body: {
            versions: items.map((v) => ({ versionId: v.versionId, creationDate: v.creationDate, isDefaultVersion: v.versionId === t.defaultVersionId })),
            ...(nextToken ? { nextToken } : {}),
          },
        };
      }
      case 'DeleteProvisioningTemplateVersion': {
        const t = template(segments[1]);
        const versionId = Number(segments[3]);
        if (!t.versions.has(versionId)) throw notFound(`Version ${segments[3]} of provisioning template ${t.name} does not exist`);
        // AWS refuses to delete the default version; the reference lists 409 DeleteConflictException for conflicts.
        if (versionId === t.defaultVersionId) throw new ApiError(409, 'DeleteConflictException', 'The default version cannot be deleted');
        t.versions.delete(versionId);
        return { status: 200, body: {} };
      }
      default:
        throw invalid(`${operation} is not emulated`);
    }
  }

  private async searchIndex(
    input: Record<string, unknown>,
    upstream: { get: UpstreamGet; headers: IncomingMessage['headers'] },
  ): Promise<EmulatedAnswer> {
    const indexName = input.indexName ?? 'AWS_Things';
    if (indexName !== 'AWS_Things') throw notFound(`Index ${String(indexName)} does not exist (the emulator has AWS_Things only)`);
    if (typeof input.queryString !== 'string' || !input.queryString) throw invalid('queryString is required');
    const maxResults = input.maxResults === undefined ? SEARCH_MAX_RESULTS : Number(input.maxResults);
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > SEARCH_MAX_RESULTS)
      throw invalid(`maxResults must be from 1 to ${SEARCH_MAX_RESULTS}`);
    const configured = await upstream.get('/indexing/config', upstream.headers);
    if (configured.status !== 200) return { status: configured.status, errorType: 'InternalFailureException', body: { message: configured.body } };
    const config =
      (JSON.parse(configured.body) as { thingIndexingConfiguration?: ThingIndexingConfig }).thingIndexingConfiguration ?? {};
    const mode = config.thingIndexingMode ?? 'OFF';
    if (mode === 'OFF') throw notFound('Index AWS_Things does not exist: thing indexing is OFF');
    const found = await upstream.get('/indices/search', upstream.headers, 'POST', JSON.stringify({ queryString: input.queryString }));
    if (found.status !== 200) return { status: found.status, errorType: errorTypeOf(found.body), body: { message: found.body } };
    const matches = (JSON.parse(found.body) as { things?: MotoThingDocument[] }).things ?? [];
    const start = input.nextToken === undefined ? 0 : Number(input.nextToken);
    if (!Number.isInteger(start) || start < 0 || start > matches.length) throw invalid('nextToken is not valid');
    const page = matches.slice(start, start + maxResults);
    const named = config.namedShadowIndexingMode === 'ON' ? (config.filter?.namedShadowNames ?? []) : [];
    // moto's shadow service: the same request with the signing service of the data plane.
    const dataHeaders = { ...upstream.headers, authorization: String(upstream.headers.authorization ?? '').replace(/\/iot\/aws4_request/, '/iotdata/aws4_request') };
    const things = [];
    for (const t of page) {
      const shadow: Record<string, unknown> = {};
      if (mode === 'REGISTRY_AND_SHADOW') {
        const classic = await upstream.get(`/things/${encodeURIComponent(t.thingName)}/shadow`, dataHeaders);
        if (classic.status === 200) Object.assign(shadow, indexedShadow(JSON.parse(classic.body) as ShadowDocument));
      }
      const motoNamed = (t.shadow ? (JSON.parse(t.shadow) as { name?: Record<string, Record<string, unknown>> }).name : undefined) ?? {};
      const names = named.filter((n) => motoNamed[n]);
      if (names.length) shadow.name = Object.fromEntries(names.map((n) => [n, indexedNamedShadow(motoNamed[n])]));
      things.push({
        thingName: t.thingName,
        ...(t.thingId ? { thingId: t.thingId } : {}),
        ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
        thingGroupNames: t.thingGroupNames ?? [],
        attributes: t.attributes ?? {},
        ...(Object.keys(shadow).length ? { shadow: JSON.stringify(shadow) } : {}),
        ...(config.thingConnectivityIndexingMode === 'STATUS' && t.connectivity ? { connectivity: t.connectivity } : {}),
      });
    }
    const next = start + maxResults < matches.length ? String(start + maxResults) : undefined;
    return { status: 200, body: { things, thingGroups: [], ...(next ? { nextToken: next } : {}) } };
  }

  private async listCaCertificates(
    region: string,
    url: URL,
    upstream: { get: UpstreamGet; headers: IncomingMessage['headers'] },
  ): Promise<EmulatedAnswer> {
    const described: { certificateArn: string; certificateId: string; status: string; creationDate: number; templateName?: string }[] = [];
    for (const id of [...this.store(region).caIds]) {
      const res = await upstream.get(`/cacertificate/${encodeURIComponent(id)}`, upstream.headers);
      if (res.status === 404) {
        this.caDeleted(region, id);
        continue;
      }
      if (res.status !== 200) return { status: res.status, errorType: 'InternalFailureException', body: { message: res.body } };
      const doc = JSON.parse(res.body) as {
        certificateDescription?: { certificateArn?: string; certificateId?: string; status?: string; creationDate?: number };
        registrationConfig?: { templateName?: string };
      };
      const d = doc.certificateDescription ?? {};
      described.push({
        // AWS names CA certificates `cacert/<id>`; moto's DescribeCACertificate says `cert/<id>`.
        certificateArn: `arn:aws:iot:${region}:${ACCOUNT}:cacert/${d.certificateId ?? id}`,
        certificateId: d.certificateId ?? id,
        status: d.status ?? 'INACTIVE',
        creationDate: d.creationDate ?? 0,
        ...(doc.registrationConfig?.templateName ? { templateName: doc.registrationConfig.templateName } : {}),
      });
    }
    const templateName = url.searchParams.get('templateName');
    const ascending = url.searchParams.get('isAscendingOrder') === 'true';
    const filtered = described
      .filter((c) => !templateName || c.templateName === templateName)
      .sort((a, b) => (ascending ? a.creationDate - b.creationDate : b.creationDate - a.creationDate) || a.certificateId.localeCompare(b.certificateId));
    const { items, nextToken } = page(filtered, url, 'pageSize', 'marker', 250);
    return {
      status: 200,
      body: {
        certificates: items.map(({ templateName: _t, ...c }) => c),
        ...(nextToken ? { nextMarker: nextToken } : {}),
      },
    };
  }
}

/** AWS's largest SearchIndex page ("This maximum number cannot exceed 100"). */
export const SEARCH_MAX_RESULTS = 100;

interface ThingIndexingConfig {
  thingIndexingMode?: string;
  namedShadowIndexingMode?: string;
  thingConnectivityIndexingMode?: string;
  filter?: { namedShadowNames?: string[] };
}

/** A document of moto's SearchIndex. */
interface MotoThingDocument {
  thingName: string;
  thingId?: string;
  thingTypeName?: string;
  thingGroupNames?: string[];
  attributes?: Record<string, string>;
  shadow?: string;
  connectivity?: unknown;
}

interface ShadowDocument {
  state?: { desired?: unknown; reported?: unknown; delta?: unknown };
  metadata?: unknown;
  version?: number;
}

/** A shadow as the index holds it: desired, reported, metadata, version and hasDelta side by side. */
function indexedShadow(doc: ShadowDocument): Record<string, unknown> {
  const state = doc.state ?? {};
  return {
    ...(state.desired !== undefined ? { desired: state.desired } : {}),
    ...(state.reported !== undefined ? { reported: state.reported } : {}),
    ...(doc.metadata !== undefined ? { metadata: doc.metadata } : {}),
    ...(doc.version !== undefined ? { version: doc.version } : {}),
    hasDelta: state.delta !== undefined,
  };
}

/** moto's named-shadow document (the state's sections, metadata, version, hasDelta) in the index's shape. */
function indexedNamedShadow(doc: Record<string, unknown>): Record<string, unknown> {
  const { desired, reported, delta, metadata, version } = doc as ShadowDocument['state'] & { metadata?: unknown; version?: number };
  return indexedShadow({ state: { desired, reported, delta }, metadata, version });
}

/** The error type of a moto error answer (its JSON `__type`), InternalFailureException otherwise. */
function errorTypeOf(body: string): string {
  try {
    const type = (JSON.parse(body) as { __type?: string }).__type;
    return type ? type.split('#').pop() ?? type : 'InternalFailureException';
  } catch {
    return 'InternalFailureException';
  }
}

function templateBody(value: unknown): string {
  if (typeof value !== 'string') throw invalid('templateBody is required');
  if (value.length > 10240) throw invalid('templateBody is longer than 10240 characters');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalid('templateBody is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid('templateBody must be a JSON object');
  return value;
}

function preProvisioningHook(value: unknown): { targetArn: string; payloadVersion?: string } | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as { targetArn?: unknown; payloadVersion?: unknown };
  if (typeof v.targetArn !== 'string' || !v.targetArn.startsWith('arn:')) throw invalid('preProvisioningHook.targetArn must be an ARN');
  return { targetArn: v.targetArn, ...(typeof v.payloadVersion === 'string' ? { payloadVersion: v.payloadVersion } : {}) };
}

/** A page of `items`: the token is the offset of the next item. */
function page<T>(items: readonly T[], url: URL, sizeKey: string, tokenKey: string, max: number): { items: T[]; nextToken?: string } {
  const size = Math.min(max, Math.max(1, Number(url.searchParams.get(sizeKey) ?? max) || max));
  const start = Number(url.searchParams.get(tokenKey) ?? 0) || 0;
  const out = items.slice(start, start + size);
  return { items: out, ...(start + size < items.length ? { nextToken: String(start + size) } : {}) };
}

/** Writes an emulated answer as AWS IoT does (JSON body; errors with `x-amzn-ErrorType`). */
export function writeAnswer(res: ServerResponse, answer: EmulatedAnswer): void {
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    ...(answer.errorType ? { 'x-amzn-ErrorType': answer.errorType } : {}),
  });
  res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
}
