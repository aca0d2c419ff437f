import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectFor } from '../dialects/index.js';
import { tablesFor } from '../task-tables.js';

/** Creates the tasks and workers tables with the indexes that serve the claim query on each database. */
export function createTaskTablesMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  return class CreateNestjsTaskTables1764201600000 implements MigrationInterface {
    name = `CreateNestjsTaskTables${tableName ? `_${tableName}_` : ''}1764201600000`;

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of dialectFor(
        queryRunner.connection,
      ).createTablesSql(tables)) {
        await queryRunner.query(statement);
      }
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const statement of dialectFor(queryRunner.connection).dropTablesSql(
        tables,
      )) {
        await queryRunner.query(statement);
      }
    }
  };
}
