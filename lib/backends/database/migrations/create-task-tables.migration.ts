import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectFor } from '../dialects/index.js';
import { tablesFor } from '../task-tables.js';
import { SCHEMA_0_1 } from './released-schema-0.1.js';

/** Creates the tasks and workers tables and their indexes as version 0.1.0 shipped them. */
export function createTaskTablesMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  return class CreateNestjsTaskTables1764201600000 implements MigrationInterface {
    name = `CreateNestjsTaskTables${tableName ? `_${tableName}_` : ''}1764201600000`;

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of dialectFor(
        queryRunner.connection,
      ).createTablesSql(tables, SCHEMA_0_1)) {
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
