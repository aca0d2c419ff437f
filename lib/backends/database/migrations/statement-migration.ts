import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A migration's statements for the database `queryRunner` is on: forward (`up`) or back (`down`). */
export type MigrationStatements = (
  queryRunner: QueryRunner,
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
  return class implements MigrationInterface {
    name = name;

    async up(queryRunner: QueryRunner): Promise<void> {
      for (const statement of statements(queryRunner, true))
        await queryRunner.query(statement);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      for (const statement of statements(queryRunner, false))
        await queryRunner.query(statement);
    }
  };
}
