import type { DataSource } from 'typeorm';
import { dialectFor } from '../../lib/backends/database/dialects/index.js';
import { SqlConnection } from '../../lib/backends/database/sql-connection.js';
import { TaskStore } from '../../lib/backends/database/task-store.js';
import { tablesFor } from '../../lib/backends/database/task-tables.js';
import {
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from './databases.js';

/** The backend's connection to the task tables named after `table`, on `ds` (its dialect's). */
export const sqlConnectionOf = (ds: DataSource, table: string): SqlConnection =>
  new SqlConnection(ds, ds, dialectFor(ds), tablesFor(table));

/** The backend's statements on the task tables named after `table`, on `ds`. */
export const taskStoreOf = (ds: DataSource, table: string): TaskStore =>
  new TaskStore(sqlConnectionOf(ds, table));

/**
 * The task tables of a suite on `db`, named after a fresh `<prefix>_<random>`:
 * made by the migrations before the suite's tests (`onOpen` is given the
 * DataSource and the backend's TaskStore on them, before the suite's own
 * `beforeAll`), dropped and closed after them. Returns the table's name.
 */
export function suiteTaskTable(
  db: TestDatabase,
  prefix: string,
  onOpen: (opened: { ds: DataSource; store: TaskStore }) => void,
): string {
  const table = uniqueTableName(prefix);
  let ds: DataSource | undefined;
  beforeAll(async () => {
    ds = await openTestDataSource(db, table);
    onOpen({ ds, store: taskStoreOf(ds, table) });
  });
  afterAll(() => closeTestDataSource(db, ds, table));
  return table;
}
