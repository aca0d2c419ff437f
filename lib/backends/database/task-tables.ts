import { TASK_TABLE } from './task-record.entity.js';
import { WORKER_TABLE } from './task-worker-record.entity.js';

/** The names of the two tables a DatabaseBackend uses. */
export interface TaskTables {
  tasks: string;
  workers: string;
}

export const DEFAULT_TABLES: TaskTables = {
  tasks: TASK_TABLE,
  workers: WORKER_TABLE,
};

export function tablesFor(tableName?: string): TaskTables {
  if (!tableName || tableName === TASK_TABLE) return DEFAULT_TABLES;
  return { tasks: tableName, workers: `${tableName}_workers` };
}
