import { TaskMessages } from '../../../tasks.messages.js';
import { Logger } from '@nestjs/common';
import { DataSource, type DataSourceOptions, type QueryRunner } from 'typeorm';
import { LOGGER_CONTEXT } from '../../../tasks.constants.js';
import type { SqlBuilder } from '../sql-builder.js';
import type { TaskTables } from '../task-tables.js';
import type { ColumnSpec } from '../task-columns.js';
import { STANDARD_TYPES, type DdlStyle } from './ddl.js';
import { Dialect, jsonRows, type TakeParts } from './dialect.js';

const STYLE: DdlStyle = {
  types: {
    ...STANDARD_TYPES,
    seq: 'INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL',
    text: 'TEXT',
    integer: 'INTEGER',
    double: 'REAL',
  },
  quote: (identifier) => `"${identifier}"`,
  partialIndexes: true,
};

/**
 * How long a statement blocks waiting for another connection's write lock
 * before SQLITE_BUSY. Tiny on purpose: better-sqlite3 waits synchronously,
 * blocking the event loop, so waits are retried asynchronously by the store
 * instead, which lets a transaction of this same process finish meanwhile.
 */
const BUSY_TIMEOUT_MS = 5;
/** How long a transactional attempt waits for the write lock before it fails. */
const WRITE_LOCK_WAIT_MS = 10_000;
/** Tries at switching the database to WAL before going on without it. */
const WAL_ATTEMPTS = 5;

/** SQLite: a take (a claim, a promotion) is one `UPDATE … WHERE seq IN (SELECT … LIMIT n) RETURNING …` statement; WAL and busy_timeout on. */
export class SqliteDialect extends Dialect {
  protected readonly ddl = STYLE;
  protected override readonly transientErrors = [
    'SQLITE_BUSY',
    'SQLITE_LOCKED',
  ];
  protected override readonly refusalErrors = [
    'SQLITE_TOOBIG',
    'SQLITE_CONSTRAINT',
    'SQLITE_MISMATCH',
  ];
  /**
   * SQLite reports a missing table or column, and an ON CONFLICT naming a
   * unique index the table does not have yet, as a plain SQLITE_ERROR, told
   * apart by its message.
   */
  override isMissingTable(error: unknown): boolean {
    const failure = error as {
      code?: string;
      message?: string;
      driverError?: { code?: string; message?: string };
    } | null;
    const cause = failure?.driverError ?? failure;
    return (
      cause?.code === 'SQLITE_ERROR' &&
      /no such (table|column)|has no column named|ON CONFLICT clause does not match/.test(
        cause.message ?? '',
      )
    );
  }

  /** SQLite compares identifiers without regard to case. */
  protected hasTableSql(table: string, sql: SqlBuilder): string {
    return `SELECT 1 AS present FROM sqlite_master WHERE type = 'table' AND name = ${sql.p(table)} COLLATE NOCASE`;
  }

  override readonly serialTransactions = true;

  /** SQLite types values, not columns: JSON numbers arrive as integers or reals, strings as text. */
  protected override manyRows(
    rows: readonly Record<string, unknown>[],
    columns: readonly ColumnSpec[],
    alias: string,
    sql: SqlBuilder,
  ): string {
    const fields = columns.map(
      (column, i) => `value ->> '$[${i}]' AS ${column.name}`,
    );
    return `(SELECT ${fields.join(', ')} FROM json_each(${sql.p(jsonRows(rows, columns))})) AS ${alias}`;
  }

  /** Takes the write lock with a no-op write, waiting (asynchronously) while another connection holds it. */
  override async beginAttempt(
    runner: QueryRunner,
    tables: TaskTables,
    id: string,
  ): Promise<void> {
    const table = this.quote(tables.tasks);
    const giveUpAt = Date.now() + WRITE_LOCK_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await runner.query(
          `UPDATE ${table} SET lease_expires_at = lease_expires_at WHERE id = ?`,
          [id],
        );
        return;
      } catch (error) {
        if (!this.isTransient(error) || Date.now() > giveUpAt) throw error;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(5 * 2 ** attempt, 100)),
        );
      }
    }
  }

  override readonly clockMs =
    "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

  /**
   * TypeORM's SQLite driver has a single connection: statements of the
   * backend would join whatever transaction the application has open on it.
   * The backend opens a connection of its own to the same file (a `:memory:`
   * database cannot be shared and keeps the application's).
   */
  override async ownConnection(app: DataSource): Promise<DataSource> {
    const database = String(
      (app.options as { database?: unknown }).database ?? '',
    );
    if (database === '' || database === ':memory:') return app;
    const own = new DataSource({
      ...app.options,
      entities: [],
      migrations: [],
      subscribers: [],
      synchronize: false,
      migrationsRun: false,
      dropSchema: false,
      enableWAL: false,
    } as unknown as DataSourceOptions);
    return own.initialize();
  }

  /**
   * The application's connection is SQLite's only writer while it holds a
   * transaction: an enqueue made meanwhile joins that transaction (written
   * and committed with it) rather than wait for a lock it may itself hold.
   */
  override sharedTransaction(
    app: DataSource,
    own: DataSource,
  ): QueryRunner | null {
    if (own === app) return null;
    const connection = (
      app.driver as unknown as {
        databaseConnection?: { inTransaction?: boolean };
      }
    ).databaseConnection;
    return connection?.inTransaction ? app.createQueryRunner() : null;
  }

  /**
   * Writers wait for each other instead of failing at once with SQLITE_BUSY,
   * and WAL lets workers read while another connection writes. Switching to
   * WAL needs a moment without other transactions: it is retried briefly,
   * and the database keeps working without it if that never comes.
   */
  override async prepare(dataSource: DataSource): Promise<void> {
    await dataSource.query(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    for (let attempt = 1; ; attempt++) {
      const [{ journal_mode: mode }] = await dataSource.query(
        'PRAGMA journal_mode',
      );
      if (mode === 'wal' || mode === 'memory') return;
      try {
        await dataSource.query('PRAGMA journal_mode = WAL');
        return;
      } catch (error) {
        if (attempt >= WAL_ATTEMPTS) {
          new Logger(LOGGER_CONTEXT).warn(
            TaskMessages.walUnavailable(mode, error),
          );
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      }
    }
  }

  protected override takeSql(
    table: string,
    parts: TakeParts,
    sql: SqlBuilder,
  ): string {
    return `UPDATE ${table} SET ${parts.set(sql)} WHERE seq IN (${parts.select(sql)}) RETURNING ${parts.returning}`;
  }
}
