import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectFor } from '../dialects/index.js';
import type { ColumnSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';

/** The column this migration adds, as it adds it (kept verbatim, like every shipped migration). */
const CANCEL_REQUESTED_AT: ColumnSpec = {
  name: 'cancel_requested_at',
  type: 'bigint',
  nullable: true,
};

/**
 * Adds the column recording the cancel of a running task, which its worker
 * learns at its next heartbeat and which ends the task CANCELLED.
 */
export function cancelRequestsMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  return class NestjsTaskCancelRequests1796100000000 implements MigrationInterface {
    name = `NestjsTaskCancelRequests${tableName ? `_${tableName}_` : ''}1796100000000`;

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        dialectFor(queryRunner.connection).addTaskColumnSql(
          tables,
          CANCEL_REQUESTED_AT,
        ),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        dialectFor(queryRunner.connection).dropTaskColumnSql(
          tables,
          CANCEL_REQUESTED_AT.name,
        ),
      );
    }
  };
}
