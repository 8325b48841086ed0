import type { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm';
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IotTopicRule } from '@cdktf/provider-aws/lib/iot-topic-rule';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { SqsQueue } from '@cdktf/provider-aws/lib/sqs-queue';
import { Construct } from 'constructs';
import { queueNotEmptyAlarm } from './alarms';
import { assumeRolePolicy, policyDocument } from './nodejs-function';
import { resourceName, topicRuleName } from './names';
import { REPLICATOR_CLIENT_TOKEN_PREFIX } from '../functions/lib/markers';
import { ITEM, type ReplicationTable } from './replication-table';

/** Registry event families replicated, as `topic(3)` of `$aws/events/<family>/...`. */
export const REGISTRY_EVENT_FAMILIES = [
  'thing',
  'thingType',
  'thingTypeAssociation',
  'thingGroup',
  'thingGroupMembership',
  'thingGroupHierarchy',
] as const;

export interface RegistryCaptureProps {
  /** The region captured: the primary, and with two-way replication the secondary too. */
  readonly provider: AwsProvider;
  /** That region's name, written into every item as `originRegion`. */
  readonly region: string;
  /** Which of the table's regions the rules write into (their own). */
  readonly side: 'primary' | 'secondary';
  readonly namePrefix: string;
  readonly table: ReplicationTable;
  /** Hours before a captured item expires (DynamoDB TTL). */
  readonly itemTtlHours: number;
}

/**
 * Shadow updates the replicator wrote (clientToken `iot-dr:<eventId>`, echoed in the accepted
 * document) are dropped by the rule itself: an applied change is never captured again, so two-way
 * replication has no echo and costs nothing for it. Updates without a clientToken pass
 * (`startswith` of an undefined value is undefined, which a WHERE clause treats as false).
 * https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-document.html#client-token
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-func-startswith
 */
export const NOT_REPLICATOR_WRITE = `(isUndefined(clientToken) OR NOT startswith(clientToken, '${REPLICATOR_CLIENT_TOKEN_PREFIX}'))`;

/**
 * Registry families whose resources the conflict rule decides delete vs change for (the others,
 * memberships and hierarchy and type associations, have no own resource to delete).
 */
export const CONFLICT_FAMILIES = ['thing', 'thingGroup', 'thingType'] as const;

/**
 * `<family>/<name>` as `attribute` on the registry events of {@link CONFLICT_FAMILIES} with one of
 * `operations` (`$aws/events/<family>/<name>/<operation>`), absent on every other event (a CASE
 * without ELSE is Undefined, and an Undefined field is not written). Matching on the family AND
 * the operation keeps topics whose fifth level is a name (`thingTypeAssociation/thing/<thing>/<type>`,
 * memberships, hierarchy) out even when that name is `deleted` or `updated`. Thing type
 * deprecation and undeprecation are `updated` events.
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-case.html
 */
export function registryKeySql(operations: readonly string[], attribute: string, orElse?: string): string {
  const whens = CONFLICT_FAMILIES.flatMap((f) => operations.map((op) => `WHEN '${f}/${op}' THEN concat(topic(3), '/', topic(4))`));
  return `CASE concat(topic(3), '/', topic(5)) ${whens.join(' ')}${orElse ? ` ELSE (${orElse})` : ''} END AS ${attribute}`;
}

/**
 * A thing added to a group is a change of the thing (`thing/<name>`): otherwise a region that
 * deleted the thing and one that added it to a group later would disagree (the adder's membership
 * re-creates the thing in the deleter, the deleter's delete removes it from the adder).
 * `$aws/events/thingGroupMembership/thingGroup/<group>/thing/<thing>/added`.
 */
export const MEMBERSHIP_ADDED_CHANGE_SQL = "CASE concat(topic(3), '/', topic(8)) WHEN 'thingGroupMembership/added' THEN concat('thing/', topic(7)) END";

/**
 * `shadow/<thing>/<shadowName>` as `removedKey` on shadow updates whose accepted `state` holds a
 * `null` (a removal: `{"reported":{"color":null}}`, `{"desired":null}`, `{"state":null}`), absent
 * otherwise. The rules engine converts an Object cast to String into its JSON serialization (a
 * Null unquoted), which is searched for `:null`. A string value containing `:null` is a false
 * positive (one index entry, harmless); a removal is never missed. `state` itself Null is checked
 * first (its cast is Undefined). A delete/accepted document has no `state`: no key.
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-data-types.html#iot-sql-conversions
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html#iot-func-regex-matches
 */
export function removalKeySql(shadowKey: string): string {
  return (
    `CASE isNull(state) WHEN true THEN ${shadowKey} ELSE ` +
    `(CASE regexp_matches(cast(state AS String), ':[ ]*null') WHEN true THEN ${shadowKey} END) END AS ${ITEM.removedKey}`
  );
}

/** SQL for one capture rule: the event's own fields plus the replication bookkeeping. */
export function captureSql(options: {
  readonly from: string;
  readonly where: string;
  readonly region: string;
  readonly itemTtlHours: number;
  readonly extra?: readonly string[];
}): string {
  if (!/^[a-z0-9-]+$/.test(options.region)) throw new Error(`invalid region literal ${options.region}`);
  const ttlSeconds = options.itemTtlHours * 3600;
  const fields = [
    '*',
    `newuuid() AS ${ITEM.id}`,
    `floor(timestamp() / 1000) + ${ttlSeconds} AS ${ITEM.expires}`,
    `'${options.region}' AS ${ITEM.originRegion}`,
    `topic() AS ${ITEM.topic}`,
    ...(options.extra ?? []),
  ];
  return `SELECT ${fields.join(', ')} FROM '${options.from}' WHERE ${options.where}`;
}

/**
 * Topic rules in one region (the primary; with two-way replication the secondary too) that write
 * every registry event and every shadow change made there into the region's copy of the
 * replication table. A failing action goes to an encrypted SQS queue, never nowhere.
 * https://docs.aws.amazon.com/iot/latest/developerguide/registry-events.html
 * https://docs.aws.amazon.com/iot/latest/developerguide/reserved-topics.html#reserved-topics-shadow
 */
export class RegistryCapture extends Construct {
  public readonly errorQueue: SqsQueue;
  /** In alarm while any captured event failed to reach the table. */
  public readonly errorAlarm: CloudwatchMetricAlarm;
  public readonly role: IamRole;
  public readonly rules: Record<'registry' | 'classicShadow' | 'namedShadow', IotTopicRule>;

  constructor(scope: Construct, id: string, props: RegistryCaptureProps) {
    super(scope, id);
    const provider = props.provider;
    // IAM is global: the secondary's rules get their own role name.
    const roleName = resourceName(props.namePrefix, props.side === 'primary' ? 'capture-rules' : 'capture-rules-secondary');

    this.errorQueue = new SqsQueue(this, 'errors', {
      provider,
      name: resourceName(props.namePrefix, 'capture-errors'),
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 1209600,
    });

    this.errorAlarm = queueNotEmptyAlarm(this, 'errors-alarm', {
      provider,
      alarmName: resourceName(props.namePrefix, 'capture-errors'),
      alarmDescription: 'iot-dr: a topic rule failed to write an event into the replication table; see the queue',
      queue: this.errorQueue,
    });

    const ruleNames = {
      registry: topicRuleName(props.namePrefix, 'registry-events'),
      classicShadow: topicRuleName(props.namePrefix, 'classic-shadows'),
      namedShadow: topicRuleName(props.namePrefix, 'named-shadows'),
    };
    const account = new DataAwsCallerIdentity(this, 'account', { provider }).accountId;
    const partition = new DataAwsPartition(this, 'partition', { provider }).partition;
    this.role = new IamRole(this, 'role', {
      provider,
      name: roleName,
      // only these three rules of this account may use the role
      // https://docs.aws.amazon.com/iot/latest/developerguide/iot-create-role.html
      assumeRolePolicy: assumeRolePolicy('iot.amazonaws.com', {
        account,
        arns: Object.values(ruleNames).map((n) => `arn:${partition}:iot:${props.region}:${account}:rule/${n}`),
      }),
    });
    new IamRolePolicy(this, 'policy', {
      provider,
      name: 'put-items-and-errors',
      role: this.role.name,
      policy: policyDocument([
        { sid: 'PutEvents', actions: ['dynamodb:PutItem'], resources: [props.table.arnIn(props.side)] },
        { sid: 'ReportErrors', actions: ['sqs:SendMessage'], resources: [this.errorQueue.arn] },
      ]),
    });

    const common = { region: props.region, itemTtlHours: props.itemTtlHours };
    const rule = (ruleId: string, ruleName: string, description: string, sql: string) =>
      new IotTopicRule(this, ruleId, {
        provider,
        name: ruleName,
        description,
        enabled: true,
        sql,
        sqlVersion: '2016-03-23',
        dynamodbv2: [{ roleArn: this.role.arn, putItem: { tableName: props.table.table.name } }],
        errorAction: { sqs: { queueUrl: this.errorQueue.url, roleArn: this.role.arn, useBase64: false } },
      });

    this.rules = {
      registry: rule(
        'registry',
        ruleNames.registry,
        'iot-dr: capture registry events for replication',
        captureSql({
          ...common,
          from: '$aws/events/#',
          where: REGISTRY_EVENT_FAMILIES.map((f) => `topic(3) = '${f}'`).join(' OR '),
          // $aws/events/<family>/<name>/<operation>: a tombstone key on deletes, a change key on
          // creates and updates (Undefined, so absent, otherwise)
          extra: [registryKeySql(['deleted'], ITEM.deletedKey), registryKeySql(['created', 'updated'], ITEM.changedKey, MEMBERSHIP_ADDED_CHANGE_SQL)],
        }),
      ),
      classicShadow: rule(
        'classic-shadow',
        ruleNames.classicShadow,
        'iot-dr: capture classic shadow updates and deletes',
        captureSql({
          ...common,
          from: '$aws/things/+/shadow/+/accepted',
          where: `(topic(5) = 'update' OR topic(5) = 'delete') AND ${NOT_REPLICATOR_WRITE}`,
          extra: [
            "'SHADOW_EVENT' AS eventType",
            'topic(5) AS operation',
            'topic(3) AS thingName',
            "'' AS shadowName",
            `CASE topic(5) WHEN 'delete' THEN concat('shadow/', topic(3), '/') END AS ${ITEM.deletedKey}`,
            removalKeySql("concat('shadow/', topic(3), '/')"),
          ],
        }),
      ),
      namedShadow: rule(
        'named-shadow',
        ruleNames.namedShadow,
        'iot-dr: capture named shadow updates and deletes',
        captureSql({
          ...common,
          from: '$aws/things/+/shadow/name/+/+/accepted',
          where: `(topic(7) = 'update' OR topic(7) = 'delete') AND ${NOT_REPLICATOR_WRITE}`,
          extra: [
            "'SHADOW_EVENT' AS eventType",
            'topic(7) AS operation',
            'topic(3) AS thingName',
            'topic(6) AS shadowName',
            `CASE topic(7) WHEN 'delete' THEN concat('shadow/', topic(3), '/', topic(6)) END AS ${ITEM.deletedKey}`,
            removalKeySql("concat('shadow/', topic(3), '/', topic(6))"),
          ],
        }),
      ),
    };
  }
}
