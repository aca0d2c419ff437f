import { OUTBOX_TABLE } from './task-outbox-record.entity.js';
import { TASK_TABLE } from './task-record.entity.js';
import { SCHEDULE_TABLE } from './task-schedule-record.entity.js';
import { WORKER_TABLE } from './task-worker-record.entity.js';

/** The names of the tables a DatabaseBackend uses, and of the outbox table named after them. */
export interface TaskTables {
  tasks: string;
  workers: string;
  schedules: string;
  outbox: string;
}

export const DEFAULT_TABLES: TaskTables = {
  tasks: TASK_TABLE,
  workers: WORKER_TABLE,
  schedules: SCHEDULE_TABLE,
  outbox: OUTBOX_TABLE,
};

export function tablesFor(tableName?: string): TaskTables {
  if (!tableName || tableName === TASK_TABLE) return DEFAULT_TABLES;
  return {
    tasks: tableName,
    workers: `${tableName}_workers`,
    schedules: `${tableName}_schedules`,
    outbox: `${tableName}_outbox`,
  };
}
