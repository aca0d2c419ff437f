import type { MigrationInterface } from 'typeorm';
import { createTaskTablesMigration } from './create-task-tables.migration.js';

/** The migrations for a DatabaseBackend with a custom `tableName`, in order. */
export function createTaskMigrations(
  tableName?: string,
): (new () => MigrationInterface)[] {
  return [createTaskTablesMigration(tableName)];
}

/** The migrations of the default tables, in order: add them beside the application's own. */
export const taskMigrations = createTaskMigrations();
