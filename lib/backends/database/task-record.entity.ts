import { recordEntity, type RecordOf } from './record-entity.js';
import { TASK_COLUMNS } from './task-columns.js';

/** The default name of the table that holds task results. */
export const TASK_TABLE = 'nestjs_tasks';

/**
 * One enqueued run of a task, as the DatabaseBackend stores it (times are
 * epoch milliseconds, JSON values text), for reading it with TypeORM. Its
 * columns are generated from `TASK_COLUMNS`, the definition the DDL is
 * generated from too; it has `synchronize: false` and declares no indexes:
 * `taskMigrations` create the table, or under `synchronize: true` the
 * DatabaseBackend creates it with the same DDL when it is missing.
 */
export const TaskRecord: new () => TaskRecord = recordEntity(
  'TaskRecord',
  TASK_TABLE,
  TASK_COLUMNS,
);
export type TaskRecord = RecordOf<typeof TASK_COLUMNS>;
