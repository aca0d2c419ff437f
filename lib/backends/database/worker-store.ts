import type { SqlConnection } from './sql-connection.js';
import { SqlBuilder } from './sql-builder.js';

/** A worker as it records itself. */
export interface WorkerRow {
  id: string;
  hostname: string;
  pid: number;
  queues: string;
  concurrency: number;
  startedAt: number;
  heartbeatAt: number;
}

/** What a worker records about itself; the times come from the database's clock. */
export type NewWorker = Omit<WorkerRow, 'startedAt' | 'heartbeatAt'>;

/** Every statement on the workers table, where running workers heartbeat. */
export class WorkerStore {
  private readonly table: string;

  constructor(private readonly sql: SqlConnection) {
    this.table = sql.dialect.quote(sql.tables.workers);
  }

  /**
   * Records a worker, timed by the database's clock. A row left by an
   * earlier worker with the same id that has been silent for `staleMs` is
   * replaced; a live one makes the insert fail.
   */
  async registerWorker(worker: NewWorker, staleMs: number): Promise<void> {
    const stale = new SqlBuilder(this.sql.dialect);
    await this.sql.write(
      `DELETE FROM ${this.table} WHERE id = ${stale.p(worker.id, 'text')} AND ${this.silentFor(stale, staleMs)}`,
      stale.params,
    );
    const sql = new SqlBuilder(this.sql.dialect);
    const values = sql.list([
      worker.id,
      worker.hostname,
      worker.pid,
      worker.queues,
      worker.concurrency,
    ]);
    const now = this.sql.dialect.clockMs;
    await this.sql.write(
      `INSERT INTO ${this.table} (id, hostname, pid, queues, concurrency, started_at, heartbeat_at) VALUES (${values}, ${now}, ${now})`,
      sql.params,
    );
  }

  /** Marks the worker alive; false when its row is gone (removed as stale while it was paused). */
  async heartbeatWorker(id: string): Promise<boolean> {
    const sql = new SqlBuilder(this.sql.dialect);
    const changed = await this.sql.write(
      `UPDATE ${this.table} SET heartbeat_at = ${this.sql.dialect.clockMs} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
    return changed > 0;
  }

  /** Removes a worker's row, and rows of workers silent for `staleMs`. */
  async removeWorkers(id: string, staleMs: number): Promise<void> {
    const sql = new SqlBuilder(this.sql.dialect);
    await this.sql.write(
      `DELETE FROM ${this.table} WHERE id = ${sql.p(id, 'text')} OR ${this.silentFor(sql, staleMs)}`,
      sql.params,
    );
  }

  /** The workers, optionally only those that heartbeated within `withinMs`. */
  async workers(withinMs?: number): Promise<WorkerRow[]> {
    const sql = new SqlBuilder(this.sql.dialect);
    const where =
      withinMs === undefined
        ? ''
        : ` WHERE heartbeat_at >= ${this.sql.dialect.clockMs} - ${sql.p(withinMs, 'bigint')}`;
    const rows = await this.sql.read(
      `SELECT * FROM ${this.table}${where} ORDER BY started_at`,
      sql.params,
    );
    return rows.map((row) => ({
      id: String(row.id),
      hostname: String(row.hostname),
      pid: Number(row.pid),
      queues: String(row.queues),
      concurrency: Number(row.concurrency),
      startedAt: Number(row.started_at),
      heartbeatAt: Number(row.heartbeat_at),
    }));
  }

  private silentFor(sql: SqlBuilder, ms: number): string {
    return `heartbeat_at < ${this.sql.dialect.clockMs} - ${sql.p(ms, 'bigint')}`;
  }
}
