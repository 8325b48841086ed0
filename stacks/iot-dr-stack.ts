import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { IotDrConfig } from '../config/schema';
import { AccountSettings } from './account-settings';
import { AlarmNotifications } from './alarm-topics';
import { configureBackend } from './backend';
import { resourceName } from './names';
import { regionProvider } from './providers';
import { RegistryCapture } from './registry-capture';
import { ReplicationTable } from './replication-table';
import { ReplicationWorkflow } from './replication-workflow';
import { Reconciliation } from './reconciliation';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { FailoverDns } from './failover-dns';
import { HealthChecks } from './health-check';

export interface IotDrStackProps {
  readonly config: IotDrConfig;
  /** Test-only endpoint override (see `regionProvider`). @default - real AWS endpoints */
  readonly testEndpoint?: string;
}

/**
 * One DR pair: both regions in one stack and therefore one Terraform state, through two aliased
 * AWS providers. Every resource names its provider explicitly.
 */
export class IotDrStack extends TerraformStack {
  public readonly primary: AwsProvider;
  public readonly secondary: AwsProvider;
  public readonly table: ReplicationTable;
  public readonly capture: RegistryCapture;
  public readonly replication: ReplicationWorkflow;
  /**
   * Two-way replication: the secondary's capture rules, the workflow applying them in the primary,
   * and the reconciliation repairing the primary (re-applies that workflow's recorded failures).
   */
  public readonly reverse?: {
    readonly capture: RegistryCapture;
    readonly replication: ReplicationWorkflow;
    readonly reconciliation: Reconciliation;
  };
  public readonly reconciliation: Reconciliation;
  public readonly alarms: AlarmNotifications;

  constructor(scope: Construct, id: string, props: IotDrStackProps) {
    super(scope, id);
    const { config } = props;
    const tags = { 'iot-dr:stack': id, ...config.tags };

    configureBackend(this, config.backend, id);
    this.primary = regionProvider(this, 'primary', {
      alias: 'primary',
      region: config.primaryRegion,
      tags,
      testEndpoint: props.testEndpoint,
    });
    this.secondary = regionProvider(this, 'secondary', {
      alias: 'secondary',
      region: config.secondaryRegion,
      tags,
      testEndpoint: props.testEndpoint,
    });

    const twoWay = config.replication.direction === 'two-way';
    new AccountSettings(this, 'account-settings', {
      primary: this.primary,
      ...(twoWay ? { secondary: this.secondary } : {}),
      manageEventConfigurations: config.account.manageEventConfigurations,
      manageIndexingConfiguration: config.account.manageIndexingConfiguration,
    });

    this.table = new ReplicationTable(this, 'replication-table', {
      primary: this.primary,
      secondaryRegion: config.secondaryRegion,
      tableName: resourceName(config.namePrefix, 'events'),
      deletionProtection: config.replication.tableDeletionProtection,
    });

    this.capture = new RegistryCapture(this, 'registry-capture', {
      provider: this.primary,
      region: config.primaryRegion,
      side: 'primary',
      namePrefix: config.namePrefix,
      table: this.table,
      itemTtlHours: config.replication.itemTtlHours,
    });

    this.replication = new ReplicationWorkflow(this, 'replication-workflow', {
      provider: this.secondary,
      target: 'secondary',
      table: this.table,
      config,
    });

    // Two-way (issue 10): the same capture and the same workflow construct, mirrored. The
    // secondary captures its own events; the primary's stream applies them in the primary.
    const reverseCapture = twoWay
      ? new RegistryCapture(this, 'secondary-capture', {
          provider: this.secondary,
          region: config.secondaryRegion,
          side: 'secondary',
          namePrefix: config.namePrefix,
          table: this.table,
          itemTtlHours: config.replication.itemTtlHours,
        })
      : undefined;
    const reverseReplication = twoWay
      ? new ReplicationWorkflow(this, 'primary-replication', {
          provider: this.primary,
          target: 'primary',
          table: this.table,
          config,
        })
      : undefined;

    new TerraformOutput(this, 'replication_table_name', { value: this.table.table.name });
    new TerraformOutput(this, 'capture_error_queue_url', { value: this.capture.errorQueue.url });
    new TerraformOutput(this, 'replication_state_machine_arn', { value: this.replication.stateMachine.arn });
    new TerraformOutput(this, 'replication_failure_table_name', { value: this.replication.failureTable.name });
    new TerraformOutput(this, 'replication_dlq_url', { value: this.replication.dlq.url });
    if (reverseCapture && reverseReplication) {
      new TerraformOutput(this, 'secondary_capture_error_queue_url', { value: reverseCapture.errorQueue.url });
      new TerraformOutput(this, 'primary_replication_state_machine_arn', { value: reverseReplication.stateMachine.arn });
      new TerraformOutput(this, 'primary_replication_failure_table_name', { value: reverseReplication.failureTable.name });
      new TerraformOutput(this, 'primary_replication_dlq_url', { value: reverseReplication.dlq.url });
    }

    // Drift repair on a schedule (issue 5): re-applies what the workflow recorded as failed. Two-way:
    // the same construct once per direction, each next to (and writing only) the region it repairs.
    this.reconciliation = new Reconciliation(this, 'reconciliation', {
      provider: this.secondary,
      target: 'secondary',
      config,
      failureTable: this.replication.failureTable,
      table: this.table,
    });
    new TerraformOutput(this, 'reconciliation_function_name', {
      value: this.reconciliation.function.function.functionName,
    });
    if (reverseCapture && reverseReplication) {
      this.reverse = {
        capture: reverseCapture,
        replication: reverseReplication,
        reconciliation: new Reconciliation(this, 'primary-reconciliation', {
          provider: this.primary,
          target: 'primary',
          config,
          failureTable: reverseReplication.failureTable,
          table: this.table,
        }),
      };
      new TerraformOutput(this, 'primary_reconciliation_function_name', {
        value: this.reverse.reconciliation.function.function.functionName,
      });
    }

    // Failover (issue 4). Route 53 is global and publishes health-check metrics in us-east-1 only:
    // its checks and alarms use a provider there (a third alias when neither region is us-east-1).
    const globalProvider =
      config.primaryRegion === 'us-east-1'
        ? this.primary
        : config.secondaryRegion === 'us-east-1'
          ? this.secondary
          : regionProvider(this, 'global', {
              alias: 'global',
              region: 'us-east-1',
              tags,
              testEndpoint: props.testEndpoint,
            });
    // The random provider generates the API mode's secret; the default canary mode has none.
    const random = config.healthCheck.mode === 'canary' ? undefined : new RandomProvider(this, 'random');
    const health = new HealthChecks(this, 'health-check', {
      primary: this.primary,
      secondary: this.secondary,
      globalProvider,
      random,
      config,
    });
    if (config.dns) {
      new FailoverDns(this, 'failover-dns', {
        route53Provider: globalProvider,
        primary: { provider: this.primary, check: health.primary },
        secondary: { provider: this.secondary, check: health.secondary },
        dns: config.dns,
        namePrefix: config.namePrefix,
      });
    }

    // Last: every alarm of the stack, whichever construct made it, notifies in its own region.
    this.alarms = new AlarmNotifications(this, 'alarms', {
      config,
      providers: [
        { provider: this.primary, region: config.primaryRegion },
        { provider: this.secondary, region: config.secondaryRegion },
        ...(globalProvider === this.primary || globalProvider === this.secondary
          ? []
          : [{ provider: globalProvider, region: 'us-east-1' }]),
      ],
    });
    this.alarms.attach(this);
  }
}
