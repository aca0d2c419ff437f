import type { DataSource } from 'typeorm';
import { dialectFor } from '../../lib/backends/database/dialects/index.js';
import { SqlConnection } from '../../lib/backends/database/sql-connection.js';
import { TaskStore } from '../../lib/backends/database/task-store.js';
import { tablesFor } from '../../lib/backends/database/task-tables.js';

/** The backend's connection to the task tables named after `table`, on `ds` (its dialect's). */
export const sqlConnectionOf = (ds: DataSource, table: string): SqlConnection =>
  new SqlConnection(ds, ds, dialectFor(ds), tablesFor(table));

/** The backend's statements on the task tables named after `table`, on `ds`. */
export const taskStoreOf = (ds: DataSource, table: string): TaskStore =>
  new TaskStore(sqlConnectionOf(ds, table));
