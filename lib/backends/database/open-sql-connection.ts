import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { LOGGER_CONTEXT } from '../../tasks.constants.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { TaskTableKey } from './dialects/ddl.js';
import { dialectFor, type Dialect } from './dialects/index.js';
import { SqlConnection } from './sql-connection.js';
import { synchronizeTaskTables } from './synchronize-task-tables.js';
import type { TaskTables } from './task-tables.js';

/**
 * The SQL layer over an application's DataSource: its dialect, the tables of
 * `keys` created under `synchronize: true`, and the connection its own
 * statements run on. `who` names the opener in warnings.
 */
export async function openSqlConnection(
  dataSource: DataSource,
  tables: TaskTables,
  who: string,
  keys?: readonly TaskTableKey[],
): Promise<SqlConnection> {
  const dialect = dialectFor(dataSource);
  await synchronizeTaskTables(dataSource, dialect, tables, keys);
  const connection = await preparedConnection(dialect, dataSource, who);
  return new SqlConnection(dataSource, connection, dialect, tables);
}

/** The dialect's own connection, prepared; the application's when that one cannot be prepared. */
export async function preparedConnection(
  dialect: Dialect,
  dataSource: DataSource,
  who: string,
): Promise<DataSource> {
  const own = await dialect.ownConnection(dataSource);
  try {
    await dialect.prepare(own);
    return own;
  } catch (error) {
    if (own === dataSource) throw error;
    await own.destroy();
    new Logger(LOGGER_CONTEXT).warn(
      TaskMessages.ownConnectionFailed(who, error),
    );
    await dialect.prepare(dataSource);
    return dataSource;
  }
}
