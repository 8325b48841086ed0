/**
 * Registry and shadow event types, as the capture rules write them into the replication table
 * (`eventType` of each item; shadow items get `SHADOW_EVENT` from the rule's SQL). One list for
 * the trigger, the workflow's routing and the workers. No imports: Lambda bundles and stack code
 * both use it.
 */
export const EVENT_TYPES = [
  'THING_EVENT',
  'THING_TYPE_EVENT',
  'THING_TYPE_ASSOCIATION_EVENT',
  'THING_GROUP_EVENT',
  'THING_GROUP_MEMBERSHIP_EVENT',
  'THING_GROUP_HIERARCHY_EVENT',
  'SHADOW_EVENT',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];
