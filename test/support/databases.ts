import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { createTaskMigrations } from '../../lib/index.js';
import {
  dataSourceOptions,
  type TestDatabaseName,
} from '../src/test-database.js';

export type { TestDatabaseName };

export interface TestDatabase {
  name: TestDatabaseName;
  /** The TypeORM options, without `migrations` (and, for SQLite, without the file). */
  options: DataSourceOptions;
  /** Set by the global setup to '1' when the server answered, '0' when not; absent for SQLite. */
  envVar: string | null;
  /** How to start the server, printed when it is absent. */
  startHint: string;
}

export const POSTGRES_ENV = 'NESTJS_TASKS_TEST_POSTGRES';
export const MARIADB_ENV = 'NESTJS_TASKS_TEST_MARIADB';

/** Every database of the conformance suites, in the order they run. */
export const TEST_DATABASES: readonly TestDatabase[] = [
  {
    name: 'postgres',
    options: dataSourceOptions('postgres'),
    envVar: POSTGRES_ENV,
    startHint:
      'start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) with a database "test", e.g.\n' +
      '  docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16',
  },
  {
    name: 'mariadb',
    options: dataSourceOptions('mariadb'),
    envVar: MARIADB_ENV,
    startHint:
      'start MariaDB on 127.0.0.1:3306 (root, empty password) with a database "test", e.g.\n' +
      '  docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 -e MARIADB_DATABASE=test mariadb:11',
  },
  {
    name: 'sqlite',
    options: { type: 'better-sqlite3', database: ':memory:' },
    envVar: null,
    startHint: 'nothing to start: SQLite runs on a temporary file.',
  },
];

/**
 * The databases to `describe.each` over: SQLite always, a server unless the
 * global setup found it down. Without the global setup every server is
 * included, so a missing one fails loudly instead of being skipped.
 */
export function availableDatabases(): TestDatabase[] {
  return TEST_DATABASES.filter(
    (db) => db.envVar === null || process.env[db.envVar] !== '0',
  );
}

/** A fresh, lowercase table name: unique per suite, so suites never share rows. */
export function uniqueTableName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

function sqliteFile(tableName: string): string {
  return join(tmpdir(), `nestjs-tasks-${tableName}.sqlite`);
}

function optionsFor(
  db: TestDatabase,
  tableName: string,
  withMigrations: boolean,
): DataSourceOptions {
  const base: DataSourceOptions =
    db.name === 'sqlite'
      ? { type: 'better-sqlite3', database: sqliteFile(tableName) }
      : db.options;
  return {
    ...base,
    // A migrations table per suite keeps suites from seeing each other's runs.
    migrationsTableName: `${tableName}_migrations`,
    migrations: withMigrations ? createTaskMigrations(tableName) : [],
    logging: false,
  } as DataSourceOptions;
}

/**
 * Opens a DataSource whose migrations create the tables `tableName` and
 * `<tableName>_workers`, drops leftovers of an earlier run and migrates.
 */
export async function openTestDataSource(
  db: TestDatabase,
  tableName: string,
): Promise<DataSource> {
  if (db.name === 'sqlite') removeSqliteFiles(tableName);
  const ds = new DataSource(optionsFor(db, tableName, true));
  await ds.initialize();
  try {
    await dropTables(ds, tableName);
    await ds.runMigrations({ transaction: 'each' });
  } catch (error) {
    await ds.destroy();
    throw error;
  }
  return ds;
}

/** Another DataSource on the same database (the same file for SQLite), without migrating. */
export async function connectTestDataSource(
  db: TestDatabase,
  tableName: string,
): Promise<DataSource> {
  const ds = new DataSource(optionsFor(db, tableName, false));
  await ds.initialize();
  return ds;
}

async function dropTables(ds: DataSource, tableName: string): Promise<void> {
  for (const table of [
    `${tableName}_workers`,
    tableName,
    `${tableName}_migrations`,
  ]) {
    await ds.query(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** Drops the suite's tables and destroys the DataSource (and removes the SQLite file). */
export async function closeTestDataSource(
  db: TestDatabase,
  ds: DataSource | undefined,
  tableName: string,
): Promise<void> {
  if (!ds) return;
  try {
    if (ds.isInitialized) await dropTables(ds, tableName);
  } finally {
    if (ds.isInitialized) await ds.destroy();
    if (db.name === 'sqlite') removeSqliteFiles(tableName);
  }
}

function removeSqliteFiles(tableName: string): void {
  const file = sqliteFile(tableName);
  for (const path of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    rmSync(path, { force: true });
  }
}
