import { IotEventConfigurations } from '@cdktf/provider-aws/lib/iot-event-configurations';
import { IotIndexingConfiguration } from '@cdktf/provider-aws/lib/iot-indexing-configuration';
import type { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Construct } from 'constructs';

/** Registry event types replication depends on. */
export const REPLICATED_EVENT_TYPES = [
  'THING',
  'THING_TYPE',
  'THING_TYPE_ASSOCIATION',
  'THING_GROUP',
  'THING_GROUP_MEMBERSHIP',
  'THING_GROUP_HIERARCHY',
] as const;

export interface AccountSettingsProps {
  readonly primary: AwsProvider;
  /**
   * Two-way replication: the secondary captures its own registry events, so they are turned on
   * there too. @default - the primary only (one-way)
   */
  readonly secondary?: AwsProvider;
  /** Manage registry event configuration. Account-wide: turn off when managed elsewhere. */
  readonly manageEventConfigurations: boolean;
  /** Manage fleet indexing. Account-wide: turn off when managed elsewhere. */
  readonly manageIndexingConfiguration: boolean;
}

/**
 * Account-wide IoT settings that replication needs: registry events on (they are off by default)
 * in every region that captures (the primary; both with two-way replication), and thing indexing
 * in the primary (the CLI's fleet-index filter).
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html
 */
export class AccountSettings extends Construct {
  public readonly eventConfigurations?: IotEventConfigurations;
  /** Two-way only: the secondary's registry events. */
  public readonly secondaryEventConfigurations?: IotEventConfigurations;
  public readonly indexing?: IotIndexingConfiguration;

  constructor(scope: Construct, id: string, props: AccountSettingsProps) {
    super(scope, id);
    if (props.manageEventConfigurations) {
      const eventConfigurations = Object.fromEntries(REPLICATED_EVENT_TYPES.map((t) => [t, true]));
      this.eventConfigurations = new IotEventConfigurations(this, 'events', { provider: props.primary, eventConfigurations });
      if (props.secondary) {
        this.secondaryEventConfigurations = new IotEventConfigurations(this, 'events-secondary', {
          provider: props.secondary,
          eventConfigurations,
        });
      }
    }
    if (props.manageIndexingConfiguration) {
      this.indexing = new IotIndexingConfiguration(this, 'indexing', {
        provider: props.primary,
        thingIndexingConfiguration: {
          thingIndexingMode: 'REGISTRY_AND_SHADOW',
          thingConnectivityIndexingMode: 'STATUS',
        },
        thingGroupIndexingConfiguration: { thingGroupIndexingMode: 'ON' },
      });
    }
  }
}
