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
  /** Manage registry event configuration. Account-wide: turn off when managed elsewhere. */
  readonly manageEventConfigurations: boolean;
  /** Manage fleet indexing. Account-wide: turn off when managed elsewhere. */
  readonly manageIndexingConfiguration: boolean;
}

/**
 * Account-wide IoT settings in the primary region that replication needs: registry events on
 * (they are off by default) and thing indexing (the CLI's fleet-index filter).
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html
 */
export class AccountSettings extends Construct {
  public readonly eventConfigurations?: IotEventConfigurations;
  public readonly indexing?: IotIndexingConfiguration;

  constructor(scope: Construct, id: string, props: AccountSettingsProps) {
    super(scope, id);
    if (props.manageEventConfigurations) {
      this.eventConfigurations = new IotEventConfigurations(this, 'events', {
        provider: props.primary,
        eventConfigurations: Object.fromEntries(REPLICATED_EVENT_TYPES.map((t) => [t, true])),
      });
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
