import type { MigrationInterface } from 'typeorm';
import type { Dialect } from '../dialects/dialect.js';
import type { ColumnSpec, IndexSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';
import { statementMigration } from './statement-migration.js';

// Kept verbatim, like every shipped migration: what this migration starts
// from and leaves, whatever the current definitions become.

/** The unique-key index as the migrations before this one left it. */
const HELD_WHILE_READY: IndexSpec = {
  suffix: 'unique',
  columns: ['task_name', 'unique_key'],
  partial: `unique_key IS NOT NULL AND status IN ('READY', 'RUNNING')`,
  unique: true,
};

/** The unique-key index as this migration leaves it: a deferred result holds its key too. */
const HELD_WHILE_SCHEDULED: IndexSpec = {
  suffix: 'unique',
  columns: ['task_name', 'unique_key'],
  partial: `unique_key IS NOT NULL AND status IN ('READY', 'RUNNING', 'SCHEDULED')`,
  unique: true,
};

/** Where indexes cannot be partial (MySQL/MariaDB), the generated column the unique index takes instead of `unique_key`. */
const HELD_UNIQUE_KEY: ColumnSpec = {
  name: 'held_unique_key',
  type: 'name',
  nullable: true,
  standsInFor: 'unique',
};

/** The index this migration creates: deferred rows by due time. */
const SCHEDULED_ROWS: IndexSpec = {
  suffix: 'scheduled',
  columns: ['available_at'],
  partial: `status = 'SCHEDULED'`,
};

/**
 * Keeps deferred tasks out of the claim index: a READY row not due yet is
 * stored SCHEDULED (still READY to every reader), and workers make it READY
 * once due, through an index of its own. Widens the unique-key index to
 * SCHEDULED rows (PostgreSQL, SQLite: the partial index; MySQL/MariaDB: the
 * generated column it indexes), moves the READY rows due later than now to
 * SCHEDULED, then creates that index: last, so that its presence tells
 * `check()` the whole migration ran (MySQL/MariaDB run DDL outside
 * transactions).
 */
export function scheduledStatusMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  const statements = (dialect: Dialect, forward: boolean) => {
    const table = dialect.quote(tables.tasks);
    // The generated column exists only where indexes cannot be partial.
    const held = dialect.hasColumn(HELD_UNIQUE_KEY);
    const holding = (index: IndexSpec) =>
      held
        ? [dialect.modifyTaskColumnSql(tables, HELD_UNIQUE_KEY, [index])]
        : [];
    return forward
      ? [
          ...holding(HELD_WHILE_SCHEDULED),
          ...dialect.replaceIndexSql(
            tables,
            HELD_WHILE_READY,
            HELD_WHILE_SCHEDULED,
            [HELD_UNIQUE_KEY],
          ),
          `UPDATE ${table} SET status = 'SCHEDULED' WHERE status = 'READY' AND available_at > ${Date.now()}`,
          dialect.createTaskIndexSql(tables, SCHEDULED_ROWS),
        ]
      : [
          dialect.dropTaskIndexSql(tables, SCHEDULED_ROWS),
          `UPDATE ${table} SET status = 'READY' WHERE status = 'SCHEDULED'`,
          ...dialect.replaceIndexSql(
            tables,
            HELD_WHILE_SCHEDULED,
            HELD_WHILE_READY,
            [HELD_UNIQUE_KEY],
          ),
          ...holding(HELD_WHILE_READY),
        ];
  };
  return statementMigration(
    'NestjsTaskScheduledStatus',
    1796310000000,
    tableName,
    statements,
  );
}
