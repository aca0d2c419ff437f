import type { DataSource, EntityManager } from 'typeorm';
import { openSqlConnection } from './open-sql-connection.js';
import { schemaLag, type SchemaLag } from './schema-lag.js';
import { CURRENT_SCHEMA } from './task-columns.js';
import { tablesFor } from './task-tables.js';
import {
  decodeOutboxRow,
  encodeOutboxPayload,
  type OutboxEntry,
} from './outbox-row.js';
import { idChunks, SqlBuilder } from './sql-builder.js';
import type { SqlConnection } from './sql-connection.js';
import type { ColumnSpec } from './task-columns.js';
import type { TaskResultData } from '../../task/task-result-data.js';

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
export class OutboxStore {
  private readonly table: string;

  constructor(readonly sql: SqlConnection) {
    this.table = sql.dialect.quote(sql.tables.outbox);
  }

  /**
   * The outbox table named after `tableName` (see `tablesFor`) on an
   * application's DataSource, created under `synchronize: true`. `who`
   * names the opener in warnings.
   */
  static async open(
    dataSource: DataSource,
    tableName: string | undefined,
    who: string,
  ): Promise<OutboxStore> {
    const tables = tablesFor(tableName);
    return new OutboxStore(
      await openSqlConnection(dataSource, tables, who, ['outbox']),
    );
  }

  /** What the outbox table lacks against this version's, or null. */
  lag(): Promise<SchemaLag | null> {
    return schemaLag(this.sql, CURRENT_SCHEMA, ['outbox']);
  }

  private get dialect() {
    return this.sql.dialect;
  }

  /**
   * Writes a row per result in the transaction of `manager` (which must be
   * on this store's DataSource), due for a sweep `graceMs` from now.
   */
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
        `INSERT INTO ${this.table} (${names}, available_at) ` +
        `SELECT ${names}, ${this.dialect.clockMs} + ${sql.p(graceMs, 'bigint')} ` +
        `FROM ${this.dialect.recordset(chunk, WRITTEN_COLUMNS, 'r', sql)}`;
      this.dialect.assertFits(text, sql.params);
      await manager.query(text, sql.params);
    }
  }

  /**
   * Takes up to `limit` rows of `backend` that are due (no sweep holds
   * them), skipping rows another sweep is taking, and holds them for
   * `leaseMs`: no other sweep takes them meanwhile.
   */
  async claim(
    backend: string,
    limit: number,
    leaseMs: number,
  ): Promise<OutboxEntry[]> {
    const clock = this.dialect.clockMs;
    const rows = await this.sql.withRunner((runner) =>
      this.dialect.take(runner, this.sql.tables.outbox, {
        select: (sql) =>
          `SELECT seq FROM ${this.table} WHERE backend = ${sql.p(backend, 'text')} AND available_at <= ${clock} ` +
          `ORDER BY available_at, seq LIMIT ${sql.p(limit, 'integer')}`,
        set: (sql) => `available_at = ${clock} + ${sql.p(leaseMs, 'bigint')}`,
        returning: '*',
      }),
    );
    return rows.map(decodeOutboxRow);
  }

  /** Deletes the rows of these ids (relayed). */
  async remove(ids: readonly string[]): Promise<void> {
    for (const chunk of idChunks(ids)) {
      const sql = new SqlBuilder(this.dialect);
      await this.sql.write(
        `DELETE FROM ${this.table} WHERE id IN (${sql.list(chunk, 'text')})`,
        sql.params,
      );
    }
  }

  /** Leaves the rows of these ids to no sweep for `ms` (rows that could not be relayed). */
  async postpone(ids: readonly string[], ms: number): Promise<void> {
    for (const chunk of idChunks(ids)) {
      const sql = new SqlBuilder(this.dialect);
      await this.sql.write(
        `UPDATE ${this.table} SET available_at = ${this.dialect.clockMs} + ${sql.p(ms, 'bigint')} ` +
          `WHERE id IN (${sql.list(chunk, 'text')})`,
        sql.params,
      );
    }
  }

  /** Closes the store's own connection, if it has one apart from the application's. */
  async close(): Promise<void> {
    await this.sql.close();
  }
}
