// The replication table on moto as deployed (not a test file): `iot-dr drill`'s, cli/drill/replication-table.ts.
export { createReplicationTable, putReplicationItem } from '../../cli/drill/replication-table';
