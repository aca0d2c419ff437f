import type { DataSource, QueryRunner } from 'typeorm';
import type { TaskTableKey } from './dialects/ddl.js';
import type { Dialect } from './dialects/dialect.js';
import { CURRENT_SCHEMA } from './task-columns.js';
import type { TaskTables } from './task-tables.js';

/** How long tables that another process is creating at the same moment are waited for. */
const CONCURRENT_CREATE_MS = 10_000;

/**
 * What `synchronize: true` does for the task tables. TypeORM's own
 * synchronize leaves them alone (the entities have `synchronize: false`), so
 * when the application's DataSource synchronizes, the backend creates the
 * missing tables itself with exactly the DDL of `taskMigrations`. Existing
 * tables are never altered. Without `synchronize` nothing happens: a missing
 * table is reported (by `check()`, or at the first enqueue) with the advice
 * to run the migrations.
 *
 * Safe when several processes start at once: whichever loses the race to
 * create the tables waits for the winner's.
 */
export async function synchronizeTaskTables(
  dataSource: DataSource,
  dialect: Dialect,
  tables: TaskTables,
  /** The tables to look at (the outbox alone, for an outbox); by default all. */
  keys: readonly TaskTableKey[] = Object.keys(tables) as TaskTableKey[],
): Promise<void> {
  if (dataSource.options.synchronize !== true) return;
  const runner = dataSource.createQueryRunner();
  try {
    await createMissingTables(runner, dialect, tables, keys);
  } finally {
    await runner.release();
  }
}

async function createMissingTables(
  runner: QueryRunner,
  dialect: Dialect,
  tables: TaskTables,
  keys: readonly TaskTableKey[],
): Promise<void> {
  const missing = async () => {
    const left: TaskTableKey[] = [];
    for (const key of keys)
      if (!(await dialect.hasTable(runner, tables[key]))) left.push(key);
    return left;
  };
  const giveUpAt = Date.now() + CONCURRENT_CREATE_MS;
  let firstError: unknown;
  for (
    let attempt = 1, absent = await missing();
    absent.length > 0;
    attempt++
  ) {
    try {
      for (const statement of dialect.createTablesSql(
        tables,
        CURRENT_SCHEMA,
        absent,
      ))
        await runner.query(statement);
      return;
    } catch (error) {
      firstError ??= error;
      const left = await missing();
      if (left.length === 0) return;
      // Part of the tables appeared (another process is creating them) or
      // the database was busy: try again shortly. Anything else is an error.
      const contended =
        left.length < absent.length || dialect.isTransient(error);
      if (!contended || Date.now() >= giveUpAt) throw firstError;
      absent = left;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(20 * attempt, 250)),
      );
    }
  }
}
