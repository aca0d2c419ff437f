import type { DataSourceOptions } from 'typeorm';

/** The databases the end-to-end suites run against: real servers on loopback, SQLite on a file. */
export type TestDatabaseName = 'postgres' | 'mariadb' | 'sqlite';

export function dataSourceOptions(
  name: TestDatabaseName,
  sqliteFile?: string,
): DataSourceOptions {
  switch (name) {
    case 'postgres':
      return {
        type: 'postgres',
        host: '127.0.0.1',
        port: 5432,
        username: 'postgres',
        database: 'test',
      };
    case 'mariadb':
      return {
        type: 'mariadb',
        host: '127.0.0.1',
        port: 3306,
        username: 'root',
        password: '',
        database: 'test',
      };
    case 'sqlite':
      if (!sqliteFile) throw new Error('SQLite needs a database file');
      return { type: 'better-sqlite3', database: sqliteFile };
  }
}
