/** The stream trigger's environment, read once at start; a missing variable fails loudly. */

/** A required environment variable is missing or empty. */
export class TriggerConfigError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'TriggerConfigError';
  }
}

/** How the trigger starts the workflow (`replication.workflowType`). */
export type WorkflowType = 'EXPRESS' | 'STANDARD';

export interface TriggerConfig {
  /** ARN of the replication state machine (`STATE_MACHINE_ARN`). */
  readonly stateMachineArn: string;
  /** URL of the DLQ for rejected records (`DLQ_URL`). */
  readonly dlqUrl: string;
  /**
   * `EXPRESS`: each batch runs as synchronous Express executions of the batch workflow
   * (StartSyncExecution); `STANDARD`: one Standard execution per record (StartExecution), named
   * after the event (`WORKFLOW_TYPE`).
   */
  readonly workflowType: WorkflowType;
  /** The region this trigger runs in and its workflow writes (`TARGET_REGION`); its own events are not replicated back. */
  readonly targetRegion: string;
  /** Endpoint override for tests (`IOT_DR_AWS_ENDPOINT`). @default - the AWS endpoints */
  readonly endpoint?: string;
}

/** Reads the trigger's configuration from `env`. */
export function triggerConfig(env: NodeJS.ProcessEnv = process.env): TriggerConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new TriggerConfigError(`environment variable ${name} is required`);
    return value;
  };
  const endpoint = env.IOT_DR_AWS_ENDPOINT?.trim();
  return {
    stateMachineArn: required('STATE_MACHINE_ARN'),
    dlqUrl: required('DLQ_URL'),
    workflowType: workflowType(required('WORKFLOW_TYPE')),
    targetRegion: required('TARGET_REGION'),
    ...(endpoint ? { endpoint } : {}),
  };
}

function workflowType(value: string): WorkflowType {
  if (value === 'EXPRESS' || value === 'STANDARD') return value;
  throw new TriggerConfigError(`environment variable WORKFLOW_TYPE must be EXPRESS or STANDARD (got "${value}")`);
}
