/**
 * Physical names. Every resource name is derived here from the configured prefix, so that two
 * deployments with different prefixes never collide and a name never embeds a construct path.
 */

/** `<prefix>-<purpose>`: Lambda functions, IAM roles, queues, tables, state machines, APIs. */
export function resourceName(prefix: string, purpose: string): string {
  const name = `${prefix}-${purpose}`;
  if (!/^[a-zA-Z0-9-]{1,64}$/.test(name)) {
    throw new Error(`resource name "${name}" must be 1-64 letters, digits and hyphens`);
  }
  return name;
}

/** IoT topic rule names allow only letters, digits and underscores. */
export function topicRuleName(prefix: string, purpose: string): string {
  return resourceName(prefix, purpose).replace(/-/g, '_');
}

/** The region a replication workflow writes. */
export type ReplicationTarget = 'primary' | 'secondary';

/**
 * Physical name of a resource of the replication workflow that writes `target`:
 * `<prefix>-<purpose>` for the secondary (unchanged since one-way replication),
 * `<prefix>-<purpose>-to-primary` for the reverse direction (IAM role names are global, and
 * operators tell the two apart at a glance). `iot-dr failback` finds queues and tables by it.
 */
export function replicationResourceName(prefix: string, purpose: string, target: ReplicationTarget): string {
  return resourceName(prefix, target === 'secondary' ? purpose : `${purpose}-to-primary`);
}
