import type { DataSource, EntityManager } from 'typeorm';
import type { TaskResultData } from '../../task/task-result-data.js';
import type {
  OutboxEntry,
  OutboxStore,
  OutboxStoreOpener,
  OutboxTable,
} from '../outbox-store.js';
import { taskOutboxMigration } from './migrations/task-outbox.migration.js';
import { openSqlConnection } from './open-sql-connection.js';
import { decodeOutboxRow, encodeOutboxPayload } from './outbox-row.js';
import { schemaLag } from './schema-lag.js';
import { idChunks, SqlBuilder } from './sql-builder.js';
import type { SqlConnection } from './sql-connection.js';
import { CURRENT_SCHEMA, type ColumnSpec } from './task-columns.js';
import { TASK_TABLE } from './task-record.entity.js';
import { tablesFor } from './task-tables.js';

/** The columns a write gives values to, as a recordset `r` (`available_at` comes from the database's clock). */
const WRITTEN_COLUMNS: readonly ColumnSpec[] = [
  { name: 'id', type: 'id' },
  { name: 'backend', type: 'short' },
  { name: 'payload', type: 'text' },
];

/**
 * Every statement on the outbox table, for all three databases: rows
 * written in the application's transaction, claimed by sweeps (the
 * dialect's claim: `FOR UPDATE SKIP LOCKED` on PostgreSQL and
 * MySQL/MariaDB, one `UPDATE … RETURNING` on SQLite) and deleted once
 * relayed. Times are the database's clock.
 */
export class DatabaseOutboxStore implements OutboxStore {
  readonly table: OutboxTable;
  private readonly quoted: string;

  constructor(private readonly sql: SqlConnection) {
    const { outbox, tasks } = sql.tables;
    this.quoted = sql.dialect.quote(outbox);
    // The migration of the list the messages name: taskMigrations for the default tables.
    const Migration = taskOutboxMigration(
      tasks === TASK_TABLE ? undefined : tasks,
    );
    this.table = {
      name: outbox,
      tasksTable: tasks,
      migration: new Migration().name ?? Migration.name,
    };
  }

  joins(manager: EntityManager): boolean {
    return manager.connection === this.sql.dataSource;
  }

  isMissingTable(error: unknown): boolean {
    return this.dialect.isMissingTable(error);
  }

  async lag(): Promise<string | null> {
    const lag = await schemaLag(this.sql, CURRENT_SCHEMA, ['outbox']);
    if (!lag) return null;
    return lag.kind === 'missing-tables'
      ? `no table '${lag.tables.join("', '")}'`
      : lag.differences.join('; ');
  }

  private get dialect() {
    return this.sql.dialect;
  }

  async write(
    manager: EntityManager,
    results: readonly TaskResultData[],
    graceMs: number,
  ): Promise<void> {
    const rows = results.map((data) => ({
      id: data.id,
      backend: data.backend,
      payload: encodeOutboxPayload(data),
    }));
    const names = WRITTEN_COLUMNS.map((column) => column.name).join(', ');
    for (const chunk of this.dialect.chunks(rows)) {
      const sql = new SqlBuilder(this.dialect);
      const text =
        `INSERT INTO ${this.quoted} (${names}, available_at) ` +
        `SELECT ${names}, ${this.dialect.clockMs} + ${sql.p(graceMs, 'bigint')} ` +
        `FROM ${this.dialect.recordset(chunk, WRITTEN_COLUMNS, 'r', sql)}`;
      this.dialect.assertFits(text, sql.params);
      await manager.query(text, sql.params);
    }
  }

  async claim(
    backend: string,
    limit: number,
    leaseMs: number,
    aheadMs = 0,
  ): Promise<OutboxEntry[]> {
    const clock = this.dialect.clockMs;
    const rows = await this.sql.withRunner((runner) =>
      this.dialect.take(runner, this.sql.tables.outbox, {
        select: (sql) =>
          `SELECT seq FROM ${this.quoted} WHERE backend = ${sql.p(backend, 'text')} AND available_at <= ${clock} + ${sql.p(aheadMs, 'bigint')} ` +
          `ORDER BY available_at, seq LIMIT ${sql.p(limit, 'integer')}`,
        set: (sql) => `available_at = ${clock} + ${sql.p(leaseMs, 'bigint')}`,
        returning: '*',
      }),
    );
    return rows.map(decodeOutboxRow);
  }

  async remove(ids: readonly string[]): Promise<void> {
    for (const chunk of idChunks(ids)) {
      const sql = new SqlBuilder(this.dialect);
      await this.sql.write(
        `DELETE FROM ${this.quoted} WHERE id IN (${sql.list(chunk, 'text')})`,
        sql.params,
      );
    }
  }

  async postpone(ids: readonly string[], ms: number): Promise<void> {
    for (const chunk of idChunks(ids)) {
      const sql = new SqlBuilder(this.dialect);
      await this.sql.write(
        `UPDATE ${this.quoted} SET available_at = ${this.dialect.clockMs} + ${sql.p(ms, 'bigint')} ` +
          `WHERE id IN (${sql.list(chunk, 'text')})`,
        sql.params,
      );
    }
  }

  async close(): Promise<void> {
    await this.sql.close();
  }
}

/** The database backend's outbox store: see `OutboxStoreOpener`. */
export const openDatabaseOutboxStore: OutboxStoreOpener = async (
  dataSource: DataSource,
  tableName: string | undefined,
  who: string,
) =>
  new DatabaseOutboxStore(
    await openSqlConnection(dataSource, tablesFor(tableName), who, ['outbox']),
  );
