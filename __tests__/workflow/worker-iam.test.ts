// Per-worker least privilege, proven on each worker's REAL bundle: every AWS call a worker's
// deployed code can send is granted by THAT worker's role, and every action its role grants is
// used by that code (or allow-listed below with the reason).
//
// How the calls are found (robust to minification, and checked two independent ways):
//  * The bundle is the zip the stack deploys: `bundleFunction(entry)` (stacks/bundle.ts, the same
//    esbuild options, cache and zip as the synth), tied to the synthesized function by its
//    `source_code_hash`.
//  * AWS SDK v3 ships one module per operation, `@aws-sdk/<client>/dist-es/commands/<Op>Command.js`
//    (the SDK's own STS/SSO clients: `@aws-sdk/nested-clients/dist-es/submodules/<svc>/commands/`),
//    and an operation can only be sent through its command class (the aggregated clients and
//    paginators use them too). esbuild's tree shaking keeps a command module only when code that
//    survives in the bundle references it, and the bundle's source map (`index.js.map`, shipped
//    in the zip) lists every module that contributed code: its `sources` ending in
//    `commands/<Op>Command.js` are the commands the bundle can send, with the client package that
//    gives the IAM service prefix.
//  * Cross-check on the minified code itself: each command class is emitted as
//    `class extends <builder>(<endpoint>,<middleware>,"<Op>",<schema>){}`, where the operation
//    name is a string literal minification keeps. Both lists must be equal: an SDK or esbuild
//    change that breaks either method fails here instead of silently finding nothing.
// IAM mapping: every IoT control-plane and data-plane operation is the action `iot:<Op>` (the
// device-shadow APIs GetThingShadow/UpdateThingShadow/DeleteThingShadow/ListNamedShadowsForThing
// included); the metrics are EMF log lines, no API call.
//
// thing-only mode deploys the same bundle: the certificate and policy code is still in it but
// gated at run time (`ctx.mode === 'complete'` in functions/lib/replication/thing.ts), so the
// ungranted actions there must be exactly the complete-mode principal/policy actions
// (stacks/iot-permissions.ts plus the two account-wide ones). The last describe shows the gate
// on moto: every command the family appliers actually send is granted in each mode, and none of
// those actions in thing-only mode.
import { readFileSync } from 'node:fs';
import { DeleteThingCommand, DeleteThingGroupCommand, DetachThingPrincipalCommand, UpdateThingCommand } from '@aws-sdk/client-iot';
import type { InitializeMiddleware } from '@aws-sdk/types';
import { unzipSync } from 'fflate';
import {
  applyShadowEvent,
  applyThingEvent,
  applyThingGroupEvent,
  applyThingTypeEvent,
  type EventApplier,
  type ReplicationContext,
  type ReplicationMode,
  SHADOW_FAMILY_EVENT_TYPES,
  THING_FAMILY_EVENT_TYPES,
  THING_GROUP_FAMILY_EVENT_TYPES,
  THING_TYPE_FAMILY_EVENT_TYPES,
} from '../../functions/lib/replication';
import { bundleFunction } from '../../stacks/bundle';
import { PRINCIPAL_READ_ACTIONS, PRINCIPAL_WRITE_ACTIONS } from '../../stacks/iot-permissions';
import { WORKER_ENTRIES } from '../../stacks/replication-workflow';
import { EVENT_TYPES, WORKER_FOR_EVENT_TYPE, type WorkerFamily } from '../../stacks/workflow-definition';
import {
  addToGroup,
  createDevice,
  createGroup,
  createPolicy,
  createThingType,
  hierarchyEvent,
  membershipEvent,
  PRIMARY,
  shadowEvent,
  thingEvent,
  thingGroupEvent,
  thingTypeEvent,
  twoRegions,
  typeAssociationEvent,
  updateShadow,
} from '../support/fleet';
import { startMoto, type Moto } from '../support/moto';
import { resourcesOf, synthJson, type TerraformJson } from '../support/synth';

const FAMILIES = Object.keys(WORKER_ENTRIES) as WorkerFamily[];
const MODES: readonly ReplicationMode[] = ['complete', 'thing-only'];

/** IAM service prefix of each SDK client package whose commands a worker may send. */
const IAM_PREFIX: Readonly<Record<string, string>> = {
  '@aws-sdk/client-iot': 'iot',
  // The device-shadow (data-plane) operations are `iot:` actions too.
  // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html
  '@aws-sdk/client-iot-data-plane': 'iot',
  // The tombstone lookup of two-way replication (dynamodb:Query on the deletions index).
  '@aws-sdk/client-dynamodb': 'dynamodb',
};

/**
 * Commands of the SDK's own nested clients, in every bundle and granted to none: the default
 * credential chain (credential-provider-node) reaches them only for SSO, shared-profile role
 * assumption, web-identity token files and sign-in sessions. In Lambda the first link, the
 * environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN of the execution role),
 * answers, and it is skipped only when AWS_PROFILE is set, which the stack never sets (asserted
 * below). Exact list: a new nested command fails the test until it is looked at.
 */
/**
 * Commands a client package always bundles but never sends here: DynamoDB's DescribeEndpoints is
 * endpoint discovery, which DynamoDB clients use only when `endpointDiscoveryEnabled` is set
 * (the workers never set it).
 */
const NEVER_SENT = ['dynamodb:DescribeEndpoints'];

const CREDENTIAL_CHAIN_COMMANDS = [
  'signin:CreateOAuth2Token',
  'signin:CreateOAuth2TokenWithIAM',
  'sso-oidc:CreateToken',
  'sso:GetRoleCredentials',
  'sts:AssumeRole',
  'sts:AssumeRoleWithWebIdentity',
];

/**
 * Granted actions no bundle sends, each with its reason. The Lambda service itself writes the
 * function's stdout (logs and EMF metrics) to its log group with the role's credentials.
 */
const GRANTED_BUT_NOT_SENT: Readonly<Record<string, string>> = {
  'logs:CreateLogStream': "Lambda's log delivery of the function's stdout (OwnLogs)",
  'logs:PutLogEvents': "Lambda's log delivery of the function's stdout and EMF metrics (OwnLogs)",
};

/**
 * Certificate and policy actions: complete mode only (the thing worker's role lacks them in
 * thing-only mode while its bundle still holds the gated code). RegisterCertificateWithoutCA and
 * ListCertificates have no IAM resource type, so they are granted on "*" apart from the lists.
 */
const COMPLETE_MODE_ONLY = [...PRINCIPAL_READ_ACTIONS, ...PRINCIPAL_WRITE_ACTIONS, 'iot:RegisterCertificateWithoutCA', 'iot:ListCertificates'].sort();

const COMMAND_SOURCE = /(?:^|\/)node_modules\/(@aws-sdk\/[^/]+)\/dist-es\/(?:submodules\/([^/]+)\/)?commands\/([A-Za-z0-9]+)Command\.js$/;
const COMMAND_CLASS = /extends [\w$]+\([\w$]+,[\w$]+,"([A-Za-z0-9]+)",[\w$]+\)\{\}/g;

interface BundleCalls {
  /** base64 SHA-256 of the zip (the function's `source_code_hash`). */
  readonly sha256: string;
  /** IAM actions of the AWS calls the bundle can send (credential-chain commands excluded). */
  readonly actions: string[];
  /** `<service>:<Op>` of the SDK's nested-client commands found. */
  readonly credentialChain: string[];
}

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();
const minus = (a: Iterable<string>, b: Iterable<string>) => {
  const drop = new Set(b);
  return sorted([...a].filter((x) => !drop.has(x)));
};

/** The AWS calls the deployed bundle of `functions/<entry>` can send (see the file header). */
function bundleCalls(entry: string): BundleCalls {
  const bundle = bundleFunction(entry);
  const files = unzipSync(readFileSync(bundle.zipPath));
  const code = Buffer.from(files['index.js']).toString('utf8');
  const map = JSON.parse(Buffer.from(files['index.js.map']).toString('utf8')) as { sources: string[] };
  const fromMap: { pkg: string; sub?: string; op: string }[] = [];
  for (const source of map.sources) {
    const m = COMMAND_SOURCE.exec(source);
    if (m) fromMap.push({ pkg: m[1], sub: m[2], op: m[3] });
  }
  const fromCode = [...code.matchAll(COMMAND_CLASS)].map((m) => m[1]);
  // The two methods must agree, and find something (every worker sends IoT calls).
  expect(fromMap.map((c) => c.op).sort()).toEqual(fromCode.sort());
  expect(fromMap.length).toBeGreaterThan(CREDENTIAL_CHAIN_COMMANDS.length);
  const actions: string[] = [];
  const credentialChain: string[] = [];
  for (const { pkg, sub, op } of fromMap) {
    if (pkg === '@aws-sdk/nested-clients' && sub) credentialChain.push(`${sub}:${op}`);
    else if (IAM_PREFIX[pkg] && !sub) {
      if (!NEVER_SENT.includes(`${IAM_PREFIX[pkg]}:${op}`)) actions.push(`${IAM_PREFIX[pkg]}:${op}`);
    }
    else throw new Error(`functions/${entry}: no IAM mapping for the ${pkg}${sub ? `/${sub}` : ''} command ${op}Command: add its service to IAM_PREFIX`);
  }
  return { sha256: bundle.sha256, actions: sorted(actions), credentialChain: sorted(credentialChain) };
}

const CONFIG = { primaryRegion: 'eu-west-1', secondaryRegion: 'eu-central-1' } as const;

/**
 * Construct ids of the workflow of each direction (two-way, the default, has both: issue 10). The
 * same bundles are deployed in both; the guard checks each direction's roles.
 */
const DIRECTIONS = ['replication-workflow', 'primary-replication'] as const;

/** A worker's Lambda function, role and every IAM action granted to that role, from the synthesized stack. */
function workerGrants(tf: TerraformJson, family: WorkerFamily, direction: (typeof DIRECTIONS)[number] = 'replication-workflow') {
  const fragment = `${direction}_worker-${family}_`;
  const functions = resourcesOf(tf, 'aws_lambda_function').filter(([id]) => id.startsWith(`${fragment}function`));
  expect(functions).toHaveLength(1);
  const fn = functions[0][1];
  const roleId = /^\$\{aws_iam_role\.([^.]+)\.arn\}$/.exec(fn.role)?.[1];
  if (!roleId) throw new Error(`${family}: role of ${functions[0][0]} is not a role of the stack: ${fn.role}`);
  const role = tf.resource.aws_iam_role[roleId];
  // Only inline role policies grant anything: no managed policies, no inline_policy blocks.
  expect(role.managed_policy_arns ?? []).toEqual([]);
  expect(role.inline_policy ?? []).toEqual([]);
  const roleName = `\${aws_iam_role.${roleId}.name}`;
  for (const type of ['aws_iam_role_policy_attachment', 'aws_iam_policy_attachment', 'aws_iam_role_policies_exclusive']) {
    expect(resourcesOf(tf, type).filter(([, body]) => JSON.stringify(body).includes(`aws_iam_role.${roleId}.`))).toEqual([]);
  }
  const policies = resourcesOf(tf, 'aws_iam_role_policy').filter(([, body]) => body.role === roleName);
  expect(policies.length).toBeGreaterThan(0);
  const actions: string[] = [];
  for (const [, body] of policies) {
    const doc = JSON.parse(body.policy) as { Statement: { Effect: string; Action: string | string[] }[] };
    for (const statement of doc.Statement) {
      expect(statement.Effect).toBe('Allow');
      actions.push(...[statement.Action].flat());
    }
  }
  return { fn, actions: sorted(actions) };
}

/** The synthesized stack per replication mode (synthesized once, on first use). */
const synthesized: Partial<Record<ReplicationMode, TerraformJson>> = {};
const stack = (mode: ReplicationMode) => (synthesized[mode] ??= synthJson({ ...CONFIG, replication: { mode } }));

describe('Worker IAM: each worker role grants exactly what its bundle can send', () => {
  const calls = Object.fromEntries(FAMILIES.map((f) => [f, bundleCalls(WORKER_ENTRIES[f])])) as Record<WorkerFamily, BundleCalls>;

  it.each(FAMILIES)('analyses the bundle the stack deploys for worker %s, in both modes', (family) => {
    for (const [mode, direction] of MODES.flatMap((m) => DIRECTIONS.map((d) => [m, d] as const))) {
      const { fn } = workerGrants(stack(mode), family, direction);
      expect(fn.source_code_hash).toBe(calls[family].sha256);
      // The credential chain starts from the environment: nothing here may divert it.
      const env = Object.keys(fn.environment?.variables ?? {});
      expect(env.filter((k) => /^AWS_(PROFILE|ROLE_ARN|WEB_IDENTITY_TOKEN_FILE|CONTAINER_CREDENTIALS|SHARED_CREDENTIALS_FILE|CONFIG_FILE)/.test(k))).toEqual([]);
    }
    expect(calls[family].credentialChain).toEqual(CREDENTIAL_CHAIN_COMMANDS);
  });

  it('finds only its own family in each bundle (tree shaking dropped the other families)', () => {
    // One operation only another family's code sends, per family: absent from the other bundles.
    const marker: Record<WorkerFamily, string> = {
      thing: 'iot:AttachThingPrincipal',
      thingType: 'iot:UpdateThingType',
      thingGroup: 'iot:CreateThingGroup',
      shadow: 'iot:GetThingShadow',
    };
    for (const family of FAMILIES) {
      const present = FAMILIES.filter((other) => calls[family].actions.includes(marker[other]));
      // The thing worker may create a missing thing type (so it holds the thing-type code); so may
      // the group worker, which creates a member missing in the secondary (registry entry only:
      // no principal code, hence no AttachThingPrincipal).
      expect(present).toEqual(family === 'thing' ? ['thing', 'thingType'] : family === 'thingGroup' ? ['thingType', 'thingGroup'] : [family]);
    }
  });

  describe.each(MODES)('%s mode', (mode) => {
    it.each(FAMILIES.flatMap((f) => DIRECTIONS.map((d) => [f, d] as const)))('grants worker %s (%s) every AWS call its bundle can send', (family, direction) => {
      const { actions: granted } = workerGrants(stack(mode), family, direction);
      const ungranted = minus(calls[family].actions, granted);
      if (mode === 'thing-only' && family === 'thing') {
        // Gated by ctx.mode at run time (see the header and the moto check below).
        expect(ungranted).toEqual(COMPLETE_MODE_ONLY);
      } else {
        expect(ungranted).toEqual([]);
      }
    });

    it.each(FAMILIES.flatMap((f) => DIRECTIONS.map((d) => [f, d] as const)))('grants worker %s (%s) nothing its bundle cannot send (beyond the listed exceptions)', (family, direction) => {
      const { actions: granted } = workerGrants(stack(mode), family, direction);
      expect(minus(granted, [...calls[family].actions, ...Object.keys(GRANTED_BUT_NOT_SENT)])).toEqual([]);
      // The exceptions are really granted (a stale entry would hide nothing, but mislead).
      expect(minus(Object.keys(GRANTED_BUT_NOT_SENT), granted)).toEqual([]);
    });
  });

  it('gives each worker exactly the event types the workflow routes to it', () => {
    const families: Record<WorkerFamily, readonly string[]> = {
      thing: THING_FAMILY_EVENT_TYPES,
      thingType: THING_TYPE_FAMILY_EVENT_TYPES,
      thingGroup: THING_GROUP_FAMILY_EVENT_TYPES,
      shadow: SHADOW_FAMILY_EVENT_TYPES,
    };
    for (const family of FAMILIES) {
      expect([...families[family]].sort()).toEqual(EVENT_TYPES.filter((t) => WORKER_FOR_EVENT_TYPE[t] === family).sort());
    }
    // And each handler passes its family's list and applier (source of functions/worker-*/handler.ts).
    const applier: Record<WorkerFamily, string> = {
      thing: 'THING_FAMILY_EVENT_TYPES, applyThingEvent',
      thingType: 'THING_TYPE_FAMILY_EVENT_TYPES, applyThingTypeEvent',
      thingGroup: 'THING_GROUP_FAMILY_EVENT_TYPES, applyThingGroupEvent',
      shadow: 'SHADOW_FAMILY_EVENT_TYPES, applyShadowEvent',
    };
    for (const family of FAMILIES) {
      const source = readFileSync(`${__dirname}/../../functions/${WORKER_ENTRIES[family]}/handler.ts`, 'utf8');
      expect(source).toContain(`workerHandler('iot-dr-${WORKER_ENTRIES[family]}', ${applier[family]});`);
    }
  });
});

describe('Worker IAM at run time (moto): the family appliers send only granted calls', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(() => moto?.stop());

  /** Records `iot:<Op>` of every command sent through the context's four clients, per family. */
  function recorder(ctx: ReplicationContext) {
    const sent = Object.fromEntries(FAMILIES.map((f) => [f, new Set<string>()])) as Record<WorkerFamily, Set<string>>;
    let current: WorkerFamily = 'thing';
    const record =
      <I extends object, O extends object>(): InitializeMiddleware<I, O> =>
      (next, context) =>
      (args) => {
        const { clientName, commandName } = context;
        // Both IoT clients map to `iot:` actions (IAM_PREFIX); anything else is a new client to map.
        if ((clientName !== 'IoTClient' && clientName !== 'IoTDataPlaneClient') || !commandName?.endsWith('Command')) {
          throw new Error(`unexpected client ${clientName} / command ${commandName}`);
        }
        sent[current].add(`iot:${commandName.replace(/Command$/, '')}`);
        return next(args);
      };
    const options = { step: 'initialize', name: 'recordIamActions' } as const;
    for (const side of [ctx.origin, ctx.target]) {
      side.iot.middlewareStack.add(record(), options);
      side.data.middlewareStack.add(record(), options);
    }
    const apply = (family: WorkerFamily, applier: EventApplier, item: Record<string, unknown>) => {
      current = family;
      return applier(ctx, item, `iam-${family}`);
    };
    return { sent, apply };
  }

  it.each(MODES)('in %s mode: a device, its type, groups and shadows created, changed and deleted', async (mode) => {
    await moto.reset();
    const env = twoRegions(moto.endpoint, { mode });
    const { sent, apply } = recorder(env.ctx);
    const old = Date.now() - 3_600_000;
    await createThingType(env.primary, 'sensor', { description: 'Sensors' });
    await createPolicy(env.primary, 'device');
    const cert = await createDevice(env.primary, 'dev', { type: 'sensor', policy: 'device', attributes: { a: '1' } });
    await createGroup(env.primary, 'top');
    await createGroup(env.primary, 'sub', { parent: 'top' });
    await addToGroup(env.primary, 'sub', 'dev');
    await updateShadow(env.primary, 'dev', '', { reported: { on: true } });
    await updateShadow(env.primary, 'dev', 'config', { desired: { rate: 5 } });

    // Created: the thing worker also creates the missing type; groups restore memberships.
    await apply('thing', applyThingEvent, thingEvent(PRIMARY, 'CREATED', { name: 'dev', type: 'sensor', timestamp: old }));
    await apply('thingType', applyThingTypeEvent, thingTypeEvent(PRIMARY, 'CREATED', { name: 'sensor' }));
    await apply('thingGroup', applyThingGroupEvent, thingGroupEvent(PRIMARY, 'CREATED', { name: 'sub', parent: 'top' }));
    await apply('thingGroup', applyThingGroupEvent, hierarchyEvent(PRIMARY, 'ADDED', 'top', 'sub'));
    await apply('thingGroup', applyThingGroupEvent, membershipEvent(PRIMARY, 'ADDED', 'sub', 'dev'));
    await apply('shadow', applyShadowEvent, shadowEvent(PRIMARY, 'update', 'dev', '', { version: 1 }));
    await apply('shadow', applyShadowEvent, shadowEvent(PRIMARY, 'update', 'dev', 'config', { version: 1 }));

    // Changed.
    await env.primary.iot.send(new UpdateThingCommand({ thingName: 'dev', attributePayload: { attributes: { a: '2' }, merge: false } }));
    await apply('thing', applyThingEvent, thingEvent(PRIMARY, 'UPDATED', { name: 'dev', version: 2 }));
    await apply('thing', applyThingEvent, typeAssociationEvent(PRIMARY, 'ADDED', 'dev', 'sensor'));

    // Deleted: the thing with its certificate (complete mode), shadows; the child group.
    await env.primary.iot.send(new DetachThingPrincipalCommand({ thingName: 'dev', principal: cert.arn }));
    await env.primary.iot.send(new DeleteThingCommand({ thingName: 'dev' }));
    await env.primary.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'sub' }));
    await apply('thingGroup', applyThingGroupEvent, membershipEvent(PRIMARY, 'REMOVED', 'sub', 'dev'));
    await apply('thing', applyThingEvent, thingEvent(PRIMARY, 'DELETED', { name: 'dev' }));
    await apply('thingGroup', applyThingGroupEvent, thingGroupEvent(PRIMARY, 'DELETED', { name: 'sub', parent: 'top' }));

    for (const family of FAMILIES) {
      expect(sent[family].size).toBeGreaterThan(0);
      expect(minus(sent[family], workerGrants(stack(mode), family).actions)).toEqual([]);
    }
    const principalCalls = sorted([...sent.thing].filter((a) => COMPLETE_MODE_ONLY.includes(a)));
    if (mode === 'thing-only') expect(principalCalls).toEqual([]);
    // complete: the scenario did reach the certificate and policy code the gate holds back
    else expect(principalCalls).toEqual(expect.arrayContaining(['iot:DescribeCertificate', 'iot:RegisterCertificateWithoutCA', 'iot:AttachPolicy', 'iot:DeleteCertificate']));
  });
});
