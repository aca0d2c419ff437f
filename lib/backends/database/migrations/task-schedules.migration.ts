import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectFor } from '../dialects/index.js';
import type { ColumnSpec } from '../task-columns.js';
import { tablesFor } from '../task-tables.js';

/** The schedules table as this migration creates it (kept verbatim, like every shipped migration). */
const CREATED: readonly ColumnSpec[] = [
  { name: 'task_name', type: 'name', primary: true },
  { name: 'last_tick', type: 'bigint' },
];

/** Creates the table where periodic tasks' last enqueued ticks are kept. */
export function taskSchedulesMigration(
  tableName?: string,
): new () => MigrationInterface {
  const tables = tablesFor(tableName);
  return class NestjsTaskSchedules1796200000000 implements MigrationInterface {
    name = `NestjsTaskSchedules${tableName ? `_${tableName}_` : ''}1796200000000`;

    async up(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        dialectFor(queryRunner.connection).createTableSql(
          tables.schedules,
          CREATED,
        ),
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        dialectFor(queryRunner.connection).dropTableSql(tables.schedules),
      );
    }
  };
}
