import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  createTaskMigrations,
  TaskRecord,
  TaskWorkerRecord,
} from '../../lib/index.js';
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

/**
 * How a suite's tables come to be: by `createTaskMigrations(tableName)`, or
 * by a DatabaseBackend opening a DataSource with `synchronize: true` (and the
 * task entities registered, as an application in development has them).
 */
export type TestSchema = 'migrations' | 'synchronize';

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
 * Opens a DataSource for the tables `tableName`, `<tableName>_workers`,
 * `<tableName>_schedules` and `<tableName>_outbox` and drops leftovers of an earlier run. With `'migrations'` (the default)
 * its migrations then create the tables; with `'synchronize'` it has
 * `synchronize: true` and the tables are left to the DatabaseBackend.
 */
export async function openTestDataSource(
  db: TestDatabase,
  tableName: string,
  schema: TestSchema = 'migrations',
): Promise<DataSource> {
  if (db.name === 'sqlite') removeSqliteFiles(tableName);
  const migrated = schema === 'migrations';
  const ds = new DataSource({
    ...optionsFor(db, tableName, migrated),
    ...(migrated
      ? {}
      : { synchronize: true, entities: [TaskRecord, TaskWorkerRecord] }),
  } as DataSourceOptions);
  await ds.initialize();
  try {
    await dropTables(ds, tableName);
    if (migrated) await ds.runMigrations({ transaction: 'each' });
  } catch (error) {
    await ds.destroy();
    throw error;
  }
  return ds;
}

/**
 * Another DataSource on the same database (the same file for SQLite),
 * without migrating. `overrides` replace options, e.g. the host and port
 * of a proxy in front of the server.
 */
export async function connectTestDataSource(
  db: TestDatabase,
  tableName: string,
  overrides: Partial<DataSourceOptions> = {},
): Promise<DataSource> {
  const ds = new DataSource({
    ...optionsFor(db, tableName, false),
    ...overrides,
  } as DataSourceOptions);
  await ds.initialize();
  return ds;
}

async function dropTables(ds: DataSource, tableName: string): Promise<void> {
  for (const table of [
    `${tableName}_outbox`,
    `${tableName}_schedules`,
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

/**
 * A namespace of its own on a test database: a PostgreSQL schema, a MariaDB
 * database or a SQLite file. The default table names used there meet no
 * other suite or run.
 */
export interface PrivateDatabase {
  /** DataSource options that reach this namespace only. */
  options: DataSourceOptions;
  /** Drops the namespace with everything in it. */
  drop(): Promise<void>;
}

/** Creates the namespace `name` (a fresh identifier, e.g. from `uniqueTableName`). */
export async function createPrivateDatabase(
  db: TestDatabase,
  name: string,
): Promise<PrivateDatabase> {
  if (db.name === 'sqlite') {
    removeSqliteFiles(name);
    return {
      options: { type: 'better-sqlite3', database: sqliteFile(name) },
      drop: async () => removeSqliteFiles(name),
    };
  }
  const admin = async (statement: string) => {
    const ds = new DataSource({ ...db.options, logging: false });
    await ds.initialize();
    try {
      await ds.query(statement);
    } finally {
      await ds.destroy();
    }
  };
  if (db.name === 'postgres') {
    await admin(`CREATE SCHEMA "${name}"`);
    return {
      // Unqualified names resolve in the schema, as they would in `public`.
      options: {
        ...db.options,
        extra: { options: `-c search_path=${name}` },
      } as DataSourceOptions,
      drop: () => admin(`DROP SCHEMA IF EXISTS "${name}" CASCADE`),
    };
  }
  await admin(`CREATE DATABASE \`${name}\``);
  return {
    options: { ...db.options, database: name } as DataSourceOptions,
    drop: () => admin(`DROP DATABASE IF EXISTS \`${name}\``),
  };
}
