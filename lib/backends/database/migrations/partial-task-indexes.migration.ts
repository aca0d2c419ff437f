import type { MigrationInterface } from 'typeorm';
import type { Dialect } from '../dialects/dialect.js';
import type { IndexSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';
import { statementMigration } from './statement-migration.js';
import { indexOf0_1 } from './released-schema-0.1.js';

/** The indexes this migration narrows, as it leaves them (kept verbatim, like every shipped migration). */
const NARROWED: readonly IndexSpec[] = [
  {
    suffix: 'unique',
    columns: ['task_name', 'unique_key'],
    partial: `unique_key IS NOT NULL AND status IN ('READY', 'RUNNING')`,
  },
  {
    suffix: 'finished',
    columns: ['status', 'finished_at'],
    partial: 'finished_at IS NOT NULL',
  },
];

/**
 * Narrows the unique-key index to unique tasks and the pruning index to
 * finished rows, so an enqueue writes two index entries fewer. Where the
 * database has no partial indexes (MySQL/MariaDB) there is nothing to do.
 */
export function partialTaskIndexesMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  const replace = (dialect: Dialect, forward: boolean) => {
    return NARROWED.flatMap((narrowed) => {
      const released = indexOf0_1(narrowed.suffix);
      return forward
        ? dialect.replaceIndexSql(tables, released, narrowed)
        : dialect.replaceIndexSql(tables, narrowed, released);
    });
  };
  return statementMigration(
    'PartialNestjsTaskIndexes',
    1795996800000,
    tableName,
    replace,
  );
}
