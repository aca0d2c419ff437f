import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectFor } from '../dialects/index.js';
import type { ColumnSpec, IndexSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';

// Kept verbatim, like every shipped migration: what this migration creates,
// whatever the current definitions become.

/** The outbox table as this migration creates it. */
const CREATED: readonly ColumnSpec[] = [
  { name: 'seq', type: 'seq' },
  { name: 'id', type: 'id', unique: true },
  { name: 'backend', type: 'short' },
  { name: 'payload', type: 'text' },
  { name: 'available_at', type: 'bigint' },
];

/** Its index, as this migration creates it. */
const RELAY_INDEX: IndexSpec<string> = {
  suffix: 'relay',
  columns: ['backend', 'available_at', 'seq'],
};

/**
 * Creates the outbox table, where enqueues made in a transaction for a
 * backend alias with `outbox` wait, committed with that transaction, until
 * they are relayed to their backend.
 */
export function taskOutboxMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  return class NestjsTaskOutbox1796300000000 implements MigrationInterface {
    name = `NestjsTaskOutbox${tableName ? `_${tableName}_` : ''}1796300000000`;

    async up(queryRunner: QueryRunner): Promise<void> {
      const dialect = dialectFor(queryRunner.connection);
      await queryRunner.query(dialect.createTableSql(tables.outbox, CREATED));
      await queryRunner.query(
        dialect.createIndexSql(tables.outbox, RELAY_INDEX),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        dialectFor(queryRunner.connection).dropTableSql(tables.outbox),
      );
    }
  };
}
