import type { MigrationInterface } from 'typeorm';
import type { Dialect } from '../dialects/dialect.js';
import type { ColumnSpec, IndexSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';
import { statementMigration } from './statement-migration.js';

// Kept verbatim, like every shipped migration: what this migration starts
// from and leaves, whatever the current definitions become.

/** The indexes this migration rebuilds where indexes cannot be partial (MySQL/MariaDB): there, led by `status` until now. */
const REBUILT: readonly IndexSpec[] = [
  {
    suffix: 'claim',
    columns: ['priority DESC', 'available_at', 'seq'],
    partial: `status = 'READY'`,
  },
  {
    suffix: 'finished',
    columns: ['status', 'finished_at'],
    partial: 'finished_at IS NOT NULL',
  },
  {
    suffix: 'scheduled',
    columns: ['available_at'],
    partial: `status = 'SCHEDULED'`,
  },
];

/** The generated columns that lead the rebuilt indexes instead of `status`. */
const STAND_INS: readonly ColumnSpec[] = [
  {
    name: 'claim_status',
    type: 'short',
    nullable: true,
    standsInFor: 'claim',
    leads: true,
  },
  {
    name: 'finished_status',
    type: 'short',
    nullable: true,
    standsInFor: 'finished',
    leads: true,
  },
  {
    name: 'scheduled_status',
    type: 'short',
    nullable: true,
    standsInFor: 'scheduled',
    leads: true,
  },
];

/**
 * Where indexes cannot be partial (MySQL/MariaDB), leads the claim,
 * finished and scheduled indexes each with a generated column that holds
 * `status` while the row is in the index, and NULL otherwise, instead of
 * `status` itself. Led by `status`, every change of a row's status
 * rewrote an entry in each: a claim and a completion four secondary index
 * entries each, where now the indexes the change does not concern keep
 * theirs. One ALTER TABLE, done whole or not at all. Elsewhere
 * (PostgreSQL, SQLite: the indexes are partial) there is nothing to do.
 */
export function indexStandInsMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  const statements = (dialect: Dialect, forward: boolean) => {
    // The generated columns exist only where indexes cannot be partial.
    if (!STAND_INS.every((column) => dialect.hasColumn(column))) return [];
    const suffixes = REBUILT.map((index) => index.suffix);
    return [
      forward
        ? dialect.alterTaskTableSql(tables, {
            addColumns: STAND_INS,
            dropIndexes: suffixes,
            addIndexes: REBUILT,
          })
        : dialect.alterTaskTableSql(tables, {
            dropIndexes: suffixes,
            addIndexes: REBUILT,
            dropColumns: STAND_INS.map((column) => column.name),
          }),
    ];
  };
  return statementMigration(
    'NestjsTaskIndexStandIns',
    1796400000000,
    tableName,
    statements,
  );
}
