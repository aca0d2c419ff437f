import type { TaskSchema } from '../dialects/ddl.js';
import type { IndexSpec } from '../task-columns.js';

/**
 * The schema as version 0.1.0 shipped it, kept verbatim: the first
 * migration creates exactly this, whatever the current definitions became,
 * and the later migrations start from it.
 */
export const SCHEMA_0_1: TaskSchema = {
  taskColumns: [
    { name: 'seq', type: 'seq' },
    { name: 'id', type: 'id', unique: true },
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
  ],
  workerColumns: [
    { name: 'id', type: 'short', primary: true },
    { name: 'hostname', type: 'name' },
    { name: 'pid', type: 'integer' },
    { name: 'queues', type: 'text' },
    { name: 'concurrency', type: 'integer' },
    { name: 'started_at', type: 'bigint' },
    { name: 'heartbeat_at', type: 'bigint' },
  ],
  indexes: [
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
  ],
};

/** An index of 0.1.0, by its suffix. */
export function indexOf0_1(suffix: string): IndexSpec {
  const index = SCHEMA_0_1.indexes.find((spec) => spec.suffix === suffix);
  if (!index) throw new Error(`0.1.0 had no index '${suffix}'`);
  return index;
}
