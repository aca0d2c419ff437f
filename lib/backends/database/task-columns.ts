/** The logical type of a column; each dialect spells it in its own DDL. */
export type ColumnType =
  'seq' | 'id' | 'name' | 'short' | 'text' | 'bigint' | 'integer' | 'double';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable?: boolean;
}

/** The tasks table, column by column, shared by every dialect's DDL and by the row mapping. */
export const TASK_COLUMNS: readonly ColumnSpec[] = [
  { name: 'seq', type: 'seq' },
  { name: 'id', type: 'id' },
  { name: 'task_name', type: 'name' },
  { name: 'backend', type: 'short' },
  { name: 'queue_name', type: 'short' },
  { name: 'priority', type: 'integer' },
  { name: 'status', type: 'short' },
  { name: 'args', type: 'text' },
  { name: 'run_after', type: 'bigint', nullable: true },
  { name: 'available_at', type: 'bigint' },
  { name: 'enqueued_at', type: 'bigint' },
  { name: 'started_at', type: 'bigint', nullable: true },
  { name: 'finished_at', type: 'bigint', nullable: true },
  { name: 'last_attempted_at', type: 'bigint', nullable: true },
  { name: 'attempts', type: 'integer' },
  { name: 'max_attempts', type: 'integer' },
  { name: 'worker_ids', type: 'text' },
  { name: 'errors', type: 'text' },
  { name: 'return_value', type: 'text', nullable: true },
  { name: 'progress', type: 'double', nullable: true },
  { name: 'metadata', type: 'text' },
  { name: 'unique_key', type: 'name', nullable: true },
  { name: 'worker_id', type: 'short', nullable: true },
  { name: 'lease_expires_at', type: 'bigint', nullable: true },
];

/** The workers table. */
export const WORKER_COLUMNS: readonly ColumnSpec[] = [
  { name: 'id', type: 'short' },
  { name: 'hostname', type: 'name' },
  { name: 'pid', type: 'integer' },
  { name: 'queues', type: 'text' },
  { name: 'concurrency', type: 'integer' },
  { name: 'started_at', type: 'bigint' },
  { name: 'heartbeat_at', type: 'bigint' },
];

/** Columns written by an enqueue (all but the generated `seq`). */
export const INSERT_COLUMNS = TASK_COLUMNS.filter(
  (column) => column.type !== 'seq',
).map((column) => column.name);

/** Index definitions; `partial` is honoured where the database has partial indexes. */
export interface IndexSpec {
  suffix: string;
  columns: string[];
  partial?: string;
}

export const TASK_INDEXES: readonly IndexSpec[] = [
  {
    suffix: 'claim',
    columns: ['priority DESC', 'available_at', 'seq'],
    partial: `status = 'READY'`,
  },
  {
    suffix: 'lease',
    columns: ['lease_expires_at'],
    partial: `status = 'RUNNING'`,
  },
  {
    suffix: 'unique',
    columns: ['task_name', 'unique_key'],
    partial: `status IN ('READY', 'RUNNING')`,
  },
  { suffix: 'finished', columns: ['status', 'finished_at'] },
];
