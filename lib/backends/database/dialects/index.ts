import { TaskMessages } from '../../../tasks.messages.js';
import type { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../../errors/invalid-task-backend.error.js';
import type { Dialect } from './dialect.js';
import { MysqlDialect } from './mysql.dialect.js';
import { PostgresDialect } from './postgres.dialect.js';
import { SqliteDialect } from './sqlite.dialect.js';

const DIALECTS: Record<string, () => Dialect> = {
  postgres: () => new PostgresDialect(),
  mysql: () => new MysqlDialect(),
  mariadb: () => new MysqlDialect(),
  'better-sqlite3': () => new SqliteDialect(),
  sqlite: () => new SqliteDialect(),
};

/** The dialect for a TypeORM DataSource's driver. */
export function dialectFor(dataSource: DataSource): Dialect {
  const type = dataSource.options.type;
  const create = DIALECTS[type];
  if (!create) {
    throw new InvalidTaskBackendError(
      TaskMessages.unsupportedDatabase(Object.keys(DIALECTS), type),
    );
  }
  return create();
}

export type { Dialect, TakeParts } from './dialect.js';
