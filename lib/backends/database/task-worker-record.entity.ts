import { recordEntity, type RecordOf } from './record-entity.js';
import { WORKER_COLUMNS } from './task-columns.js';

/** The default name of the table where running workers heartbeat. */
export const WORKER_TABLE = 'nestjs_task_workers';

/**
 * A running worker: the DatabaseBackend's proof of life for the tasks it
 * holds. Generated from `WORKER_COLUMNS`, with `synchronize: false`, like
 * `TaskRecord`.
 */
export const TaskWorkerRecord: new () => TaskWorkerRecord = recordEntity(
  'TaskWorkerRecord',
  WORKER_TABLE,
  WORKER_COLUMNS,
);
export type TaskWorkerRecord = RecordOf<typeof WORKER_COLUMNS>;
