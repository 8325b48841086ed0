/** Fleet snapshot and diff: what `iot-dr verify` and the reconciliation job compare. */
export * from './model';
export * from './snapshot';
export * from './diff';
export { mapLimit } from './pool';
export * from './repair';
export * from './reconcile';
export * from './provisioning';
export * from './thing-index';
