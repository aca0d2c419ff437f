import type { MigrationInterface } from 'typeorm';
import type { Dialect } from '../dialects/dialect.js';
import type { ColumnSpec, IndexSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';
import { statementMigration } from './statement-migration.js';

// Kept verbatim, like every shipped migration: what this migration starts
// from and leaves, whatever the current definitions become.

/** The unique-key index as the migration before this one left it. */
const NOT_UNIQUE: IndexSpec = {
  suffix: 'unique',
  columns: ['task_name', 'unique_key'],
  partial: `unique_key IS NOT NULL AND status IN ('READY', 'RUNNING')`,
};

/** The unique-key index as this migration leaves it. */
const UNIQUE: IndexSpec = {
  suffix: 'unique',
  columns: ['task_name', 'unique_key'],
  partial: `unique_key IS NOT NULL AND status IN ('READY', 'RUNNING')`,
  unique: true,
};

/** Where indexes cannot be partial (MySQL/MariaDB), the generated column the unique index takes instead of `unique_key`. */
const HELD_UNIQUE_KEY: ColumnSpec = {
  name: 'held_unique_key',
  type: 'name',
  nullable: true,
  standsInFor: 'unique',
};

/**
 * Makes the unique-key index unique: at most one READY or RUNNING result
 * per task and unique key (PostgreSQL, SQLite: a partial unique index;
 * MySQL/MariaDB: a unique index over a generated column that holds the key
 * while the result is READY or RUNNING, NULL otherwise). No duplicate can
 * stand in the way: the versions before this one refused unique tasks on
 * the DatabaseBackend, so every row they stored has a NULL unique_key.
 */
export function uniqueTaskKeysMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  const statements = (dialect: Dialect, forward: boolean) => {
    // The generated column exists only where indexes cannot be partial.
    const held = dialect.hasColumn(HELD_UNIQUE_KEY);
    return forward
      ? [
          ...(held
            ? [dialect.addTaskColumnSql(tables, HELD_UNIQUE_KEY, [UNIQUE])]
            : []),
          ...dialect.replaceIndexSql(tables, NOT_UNIQUE, UNIQUE, [
            HELD_UNIQUE_KEY,
          ]),
        ]
      : [
          ...dialect.replaceIndexSql(tables, UNIQUE, NOT_UNIQUE, [
            HELD_UNIQUE_KEY,
          ]),
          ...(held
            ? [dialect.dropTaskColumnSql(tables, HELD_UNIQUE_KEY.name)]
            : []),
        ];
  };
  return statementMigration(
    'UniqueNestjsTaskKeys',
    1796000000000,
    tableName,
    statements,
  );
}
