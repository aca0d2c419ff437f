import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { Dialect } from '../dialects/dialect.js';
import { dialectFor } from '../dialects/index.js';

/** A migration's statements in the dialect of the database it runs on: forward (`up`) or back (`down`). */
export type MigrationStatements = (
  dialect: Dialect,
  forward: boolean,
) => string[];

/**
 * A migration that runs `statements` one after another, named as TypeORM
 * records it: `<title>`, `_<tableName>_` for tables of a custom name, then
 * the timestamp that orders it.
 */
export function statementMigration(
  title: string,
  timestamp: number,
  tableName: string | undefined,
  statements: MigrationStatements,
): new () => MigrationInterface {
  const name = `${title}${tableName ? `_${tableName}_` : ''}${timestamp}`;
  const run = async (queryRunner: QueryRunner, forward: boolean) => {
    const dialect = dialectFor(queryRunner.connection);
    for (const statement of statements(dialect, forward))
      await queryRunner.query(statement);
  };
  return class implements MigrationInterface {
    name = name;

    up(queryRunner: QueryRunner): Promise<void> {
      return run(queryRunner, true);
    }

    down(queryRunner: QueryRunner): Promise<void> {
      return run(queryRunner, false);
    }
  };
}
