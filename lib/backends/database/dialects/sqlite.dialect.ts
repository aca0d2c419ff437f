import type { DataSource, QueryRunner } from 'typeorm';
import { SqlBuilder } from '../sql-builder.js';
import type { TaskTables } from '../task-tables.js';
import { createTablesSql, type DdlStyle } from './ddl.js';
import { Dialect, type ClaimParts } from './dialect.js';

const STYLE: DdlStyle = {
  types: {
    seq: 'INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL',
    id: 'VARCHAR(36)',
    name: 'VARCHAR(255)',
    short: 'VARCHAR(100)',
    text: 'TEXT',
    bigint: 'BIGINT',
    integer: 'INTEGER',
    double: 'REAL',
  },
  quote: (identifier) => `"${identifier}"`,
  partialIndexes: true,
};

/** How long a connection waits for another process's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

/** SQLite: one `UPDATE … WHERE seq IN (SELECT … LIMIT n) RETURNING *` statement; WAL and busy_timeout on. */
export class SqliteDialect extends Dialect {
  appendToJsonArray(column: string, placeholder: string): string {
    return `json_insert(${column}, '$[#]', ${placeholder})`;
  }

  override async prepare(dataSource: DataSource): Promise<void> {
    const memory =
      String((dataSource.options as { database?: unknown }).database) ===
      ':memory:';
    if (!memory) await dataSource.query('PRAGMA journal_mode = WAL');
    await dataSource.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }

  async claim(
    runner: QueryRunner,
    tables: TaskTables,
    parts: ClaimParts,
  ): Promise<Record<string, unknown>[]> {
    const sql = new SqlBuilder(this);
    const table = this.quote(tables.tasks);
    const text = `UPDATE ${table} SET ${parts.setRunning(sql)} WHERE seq IN (${parts.selectReady(sql)}) RETURNING *`;
    return (await runner.query(text, sql.params, true)).records;
  }

  override isTransient(error: unknown): boolean {
    const code =
      (error as { code?: string; driverError?: { code?: string } })?.driverError
        ?.code ?? (error as { code?: string })?.code;
    return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  }

  createTablesSql(tables: TaskTables): string[] {
    return createTablesSql(STYLE, tables);
  }
}
