import type { MigrationInterface } from 'typeorm';
import { cancelRequestsMigration } from './cancel-requests.migration.js';
import { createTaskTablesMigration } from './create-task-tables.migration.js';
import { partialTaskIndexesMigration } from './partial-task-indexes.migration.js';
import { uniqueTaskKeysMigration } from './unique-task-keys.migration.js';
import { taskSchedulesMigration } from './task-schedules.migration.js';
import { taskOutboxMigration } from './task-outbox.migration.js';
import { scheduledStatusMigration } from './scheduled-status.migration.js';
import { indexStandInsMigration } from './index-stand-ins.migration.js';

/**
 * The migrations for a DatabaseBackend with a custom `tableName`, in order.
 * A new version appends migrations; a shipped one is never edited.
 */
export function createTaskMigrations(
  tableName?: string,
): (new () => MigrationInterface)[] {
  return [
    createTaskTablesMigration(tableName),
    partialTaskIndexesMigration(tableName),
    uniqueTaskKeysMigration(tableName),
    cancelRequestsMigration(tableName),
    taskSchedulesMigration(tableName),
    taskOutboxMigration(tableName),
    scheduledStatusMigration(tableName),
    indexStandInsMigration(tableName),
  ];
}

/** The migrations of the default tables, in order: add them beside the application's own. */
export const taskMigrations = createTaskMigrations();
