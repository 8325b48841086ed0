/**
 * Scheduled reconciliation of one direction (EventBridge rule in the region it repairs): verifies
 * a slice of the fleet, repairs drift from ORIGIN_REGION into TARGET_REGION (its own region) and
 * re-applies the failures that direction's workflow recorded, through the replication library.
 * The secondary's instance has origin = primary; two-way replication adds one in the primary with
 * origin = secondary. The logic is `functions/lib/fleet/reconcile.ts`; this handler wires clients,
 * logs and metrics.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { clientConfig } from '../lib/aws';
import { ConfigurationError, requiredEnv } from '../lib/errors';
import { reconcile } from '../lib/fleet/reconcile';
import { type ConflictPolicy, createContext, type ReplicationMode, tableChangeLog } from '../lib/replication';

/** The region read (the replication workflow's origin for this direction). */
const ORIGIN_REGION = requiredEnv('ORIGIN_REGION');
/** The region written: the function's own (cursor, failure table and DLQ live there too). */
const TARGET_REGION = requiredEnv('TARGET_REGION');
const REPLICATION_MODE = requiredEnv('REPLICATION_MODE', ['complete', 'thing-only']) as ReplicationMode;
/**
 * Two-way replication: `merge`, so the repair never overwrites the target's own newer changes
 * (nor deletes what was provisioned there, e.g. in the secondary during a failover) with the
 * origin's older state.
 */
const CONFLICT_POLICY = (process.env.CONFLICT_POLICY?.trim() ? requiredEnv('CONFLICT_POLICY', ['mirror', 'merge']) : 'mirror') as ConflictPolicy;
const CURSOR_PARAMETER = requiredEnv('CURSOR_PARAMETER');
const THINGS_PER_RUN = Number(requiredEnv('THINGS_PER_RUN'));
if (!Number.isInteger(THINGS_PER_RUN) || THINGS_PER_RUN < 1) {
  throw new ConfigurationError(
    `environment variable THINGS_PER_RUN must be a whole number >= 1 (got "${process.env.THINGS_PER_RUN}")`,
  );
}
/** Sizing of runs to the fleet (set by stacks/reconciliation.ts); absent: exactly THINGS_PER_RUN. */
function positiveEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigurationError(`environment variable ${name} must be a positive number (got "${raw}")`);
  return n;
}
const SIZING = (() => {
  const values = ['FULL_PASS_HOURS', 'RUN_INTERVAL_SECONDS', 'RUN_BUDGET_SECONDS', 'MAX_THINGS_PER_SECOND'].map(positiveEnv);
  if (values.every((v) => v === undefined)) return undefined;
  if (values.some((v) => v === undefined)) {
    throw new ConfigurationError('FULL_PASS_HOURS, RUN_INTERVAL_SECONDS, RUN_BUDGET_SECONDS and MAX_THINGS_PER_SECOND are set together');
  }
  const [fullPassHours, runIntervalSeconds, runBudgetSeconds, maxThingsPerSecond] = values as number[];
  return { fullPassHours, runIntervalSeconds, runBudgetSeconds, maxThingsPerSecond };
})();
/** Empty when the replication workflow (and its failure table) is not deployed. */
const FAILURE_TABLE = process.env.FAILURE_TABLE ?? '';
/**
 * Two-way (`merge`): the replication table, whose tombstones (this region's copy) decide delete vs
 * update as in the workers: a shadow this region deleted after the origin's last write is not
 * re-created by the repair.
 */
const TABLE_NAME = process.env.TABLE_NAME?.trim() ?? '';

const logger = new Logger({ serviceName: 'iot-dr-reconcile' });
const metrics = new Metrics({ namespace: 'IotDr', serviceName: 'reconcile' });
const ctx = createContext({
  originRegion: ORIGIN_REGION,
  targetRegion: TARGET_REGION,
  mode: REPLICATION_MODE,
  conflicts: CONFLICT_POLICY,
  ...(CONFLICT_POLICY === 'merge' && TABLE_NAME ? { changes: tableChangeLog({ tableName: TABLE_NAME, region: TARGET_REGION }) } : {}),
  logger,
});
const ssm = new SSMClient(clientConfig({ region: TARGET_REGION }));
const dynamodb = new DynamoDBClient(clientConfig({ region: TARGET_REGION }));

export const handler = async (): Promise<{
  thingsChecked: number;
  thingsRepaired: number;
  failuresRepaired: number;
  failuresRemaining: number;
}> => {
  try {
    const result = await reconcile({
      ctx,
      ssm,
      cursorParameter: CURSOR_PARAMETER,
      thingsPerRun: THINGS_PER_RUN,
      ...(SIZING ? { sizing: SIZING } : {}),
      ...(FAILURE_TABLE ? { failures: { client: dynamodb, tableName: FAILURE_TABLE } } : {}),
    });
    metrics.addMetric('ThingsChecked', MetricUnit.Count, result.thingsChecked);
    metrics.addMetric('ThingsDrifted', MetricUnit.Count, result.thingsDrifted);
    metrics.addMetric('ThingsRepaired', MetricUnit.Count, result.thingsRepaired);
    metrics.addMetric('RegistryRepaired', MetricUnit.Count, result.registryRepaired);
    metrics.addMetric('RepairErrors', MetricUnit.Count, result.repairErrors.length);
    metrics.addMetric('FailuresRetried', MetricUnit.Count, result.failuresRetried);
    metrics.addMetric('FailuresRepaired', MetricUnit.Count, result.failuresRepaired);
    metrics.addMetric('FailuresRemaining', MetricUnit.Count, result.failuresRemaining);
    metrics.addMetric('ThingsPerRun', MetricUnit.Count, result.plan.thingsPerRun);
    metrics.addMetric('PassesCompleted', MetricUnit.Count, result.cursor.passes);
    if (result.passProgressPercent !== null) metrics.addMetric('PassProgress', MetricUnit.Percent, result.passProgressPercent);
    if (result.plan.fullPassHours !== null) metrics.addMetric('FullPassHours', MetricUnit.Count, result.plan.fullPassHours);
    logger.info('reconciliation run', {
      thingsChecked: result.thingsChecked,
      thingsDrifted: result.thingsDrifted,
      thingsRepaired: result.thingsRepaired,
      registryRepaired: result.registryRepaired,
      differences: result.differences.slice(0, 100),
      outcomes: result.outcomes,
      repairErrors: result.repairErrors.slice(0, 100),
      failuresRetried: result.failuresRetried,
      failuresRepaired: result.failuresRepaired,
      failuresRemaining: result.failuresRemaining,
      cursor: { passes: result.cursor.passes, atStart: result.cursor.primary === null },
      plan: result.plan,
      passProgressPercent: result.passProgressPercent,
    });
    return {
      thingsChecked: result.thingsChecked,
      thingsRepaired: result.thingsRepaired,
      failuresRepaired: result.failuresRepaired,
      failuresRemaining: result.failuresRemaining,
    };
  } finally {
    metrics.publishStoredMetrics();
  }
};
