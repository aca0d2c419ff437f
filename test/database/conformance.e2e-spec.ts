import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { TaskResultStatus } from '../../lib/index.js';
import { INSERT_COLUMNS } from '../../lib/backends/database/task-columns.js';
import {
  describeConformance,
  type ConformanceCapabilities,
  type ConformanceHarness,
} from '../conformance/backend-conformance.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { bootTasksApp } from '../support/tasks-app.js';

const { READY, RUNNING } = TaskResultStatus;

const bootModule = (ds: DataSource, tableName: string) =>
  bootTasksApp({
    dataSource: ds,
    tableName,
    leaseMs: 1000,
    providers: [ConformanceTasks],
  });

/** The suite's harness on one database: tables of its own, reached with SQL. */
async function databaseHarness(db: TestDatabase): Promise<ConformanceHarness> {
  const tableName = uniqueTableName('t_conf');
  const ds = await openTestDataSource(db, tableName);

  /** Runs SQL written with `:1`, `:2`… placeholders, spelled for this database. */
  const sql = (text: string, params: unknown[] = []) =>
    ds.query(
      text.replace(/:(\d+)/g, (_, n: string) =>
        db.name === 'postgres' ? `$${n}` : '?',
      ),
      params,
    );

  /** Copies the row `id` as a new READY, due row, overriding some columns with literals. */
  const copyRow = async (
    id: string,
    overrides: Record<string, string>,
  ): Promise<string> => {
    const newId = randomUUID();
    const now = Date.now();
    const values: Record<string, string> = {
      id: `'${newId}'`,
      status: `'${READY}'`,
      run_after: 'NULL',
      available_at: String(now - 1000),
      enqueued_at: String(now - 1000),
      ...overrides,
    };
    await sql(
      `INSERT INTO ${tableName} (${INSERT_COLUMNS.map(({ name }) => name).join(', ')}) SELECT ${INSERT_COLUMNS.map(
        ({ name }) => values[name] ?? name,
      ).join(', ')} FROM ${tableName} WHERE id = :1`,
      [id],
    );
    return newId;
  };

  return {
    boot: () => bootModule(ds, tableName),
    async bootElsewhere() {
      const otherDs = await connectTestDataSource(db, tableName);
      const moduleRef = await bootModule(otherDs, tableName).catch(
        async (error: unknown) => {
          await otherDs.destroy();
          throw error;
        },
      );
      return {
        moduleRef,
        async close() {
          try {
            await moduleRef.close();
          } finally {
            await otherDs.destroy();
          }
        },
      };
    },
    async reset() {
      await ds.query(`DELETE FROM ${tableName}`);
      await ds.query(`DELETE FROM ${tableName}_workers`);
    },
    async countStored() {
      const [{ count }] = await ds.query(
        `SELECT COUNT(*) AS count FROM ${tableName}`,
      );
      return Number(count);
    },
    async strand(id) {
      const now = Date.now();
      await sql(
        `UPDATE ${tableName} SET status = '${RUNNING}', worker_id = 'ghost', attempts = 1, ` +
          `started_at = :1, last_attempted_at = :2, worker_ids = '[]', lease_expires_at = :3 WHERE id = :4`,
        [now - 5000, now - 5000, now - 1000, id],
      );
    },
    async availableAt(id) {
      const [row] = await sql(
        `SELECT available_at FROM ${tableName} WHERE id = :1`,
        [id],
      );
      return Number(row.available_at);
    },
    copyDamaged: (id, damage) =>
      copyRow(
        id,
        damage === 'unregistered-task'
          ? { task_name: `'Removed.task'` }
          : { args: `'{not json'` },
      ),
    transaction: (work) => ds.transaction(work),
    async bootMissingStore() {
      const missingTable = uniqueTableName('t_gone');
      return {
        moduleRef: await bootModule(ds, missingTable),
        fix: `createTaskMigrations('${missingTable}')`,
      };
    },
    close: () => closeTestDataSource(db, ds, tableName),
  };
}

function databaseCapabilities(db: TestDatabase): ConformanceCapabilities {
  return {
    ordersByDueTime: true,
    writesInTransactions: true,
    // TypeORM's better-sqlite3 driver has one connection per DataSource,
    // shared by every query runner, so a worker running while the
    // transaction is open would run its statements inside that very
    // transaction (and see the uncommitted row). Separate processes would
    // be needed to test this isolation on SQLite.
    isolatesOpenTransactions:
      db.name === 'sqlite'
        ? {
            absent:
              'SQLite: one connection per DataSource, shared by the worker and the open transaction',
          }
        : true,
    storeCanBeMissing: true,
  };
}

for (const db of availableDatabases())
  describeConformance(
    `DatabaseBackend conformance on ${db.name}`,
    () => databaseHarness(db),
    databaseCapabilities(db),
  );
