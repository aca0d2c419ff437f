import { Logger } from '@nestjs/common';
import type { DataSource, QueryRunner } from 'typeorm';
import { LOGGER_CONTEXT } from '../../../tasks.constants.js';
import { SqlBuilder } from '../sql-builder.js';
import type { TaskTables } from '../task-tables.js';
import type { DdlStyle } from './ddl.js';
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
  protected readonly ddl = STYLE;
  protected override readonly transientErrors = [
    'SQLITE_BUSY',
    'SQLITE_LOCKED',
  ];
  appendToJsonArray(column: string, placeholder: string): string {
    return `json_insert(${column}, '$[#]', ${placeholder})`;
  }

  /**
   * WAL lets workers in other processes read while one writes; busy_timeout
   * makes writers wait for each other instead of failing. SQLite refuses to
   * switch to WAL inside a transaction: when the backend is first used in one,
   * it says how to turn WAL on at connection time instead.
   */
  override async prepare(dataSource: DataSource): Promise<void> {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const [{ journal_mode: mode }] = await runner.query(
        'PRAGMA journal_mode',
      );
      if (mode === 'wal' || mode === 'memory') return;
      await runner.query('PRAGMA journal_mode = WAL').catch((error: Error) => {
        new Logger(LOGGER_CONTEXT).warn(
          `SQLite stays in '${mode}' journal mode (${error.message}); set enableWAL: true in the DataSource options so that workers in other processes can read while one writes.`,
        );
      });
    } finally {
      await runner.release();
    }
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
}
