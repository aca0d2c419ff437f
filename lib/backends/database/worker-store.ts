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

/** Every statement on the workers table, where running workers heartbeat. */
export class WorkerStore {
  private readonly workers: string;

  constructor(private readonly sql: SqlConnection) {
    this.workers = sql.dialect.quote(sql.tables.workers);
  }

  /**
   * Records a worker. A row left by an earlier worker with the same id that
   * has stopped heartbeating (since `staleBefore`) is replaced; a live one
   * makes the insert fail.
   */
  async registerWorker(worker: WorkerRow, staleBefore: number): Promise<void> {
    const stale = new SqlBuilder(this.sql.dialect);
    await this.sql.write(
      `DELETE FROM ${this.workers} WHERE id = ${stale.p(worker.id, 'text')} AND heartbeat_at < ${stale.p(staleBefore, 'bigint')}`,
      stale.params,
    );
    const sql = new SqlBuilder(this.sql.dialect);
    const values = [
      worker.id,
      worker.hostname,
      worker.pid,
      worker.queues,
      worker.concurrency,
      worker.startedAt,
      worker.heartbeatAt,
    ];
    await this.sql.write(
      `INSERT INTO ${this.workers} (id, hostname, pid, queues, concurrency, started_at, heartbeat_at) VALUES (${sql.list(values)})`,
      sql.params,
    );
  }

  async heartbeatWorker(id: string, now: number): Promise<void> {
    const sql = new SqlBuilder(this.sql.dialect);
    await this.sql.write(
      `UPDATE ${this.workers} SET heartbeat_at = ${sql.p(now, 'bigint')} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
  }

  /** Removes a worker's row, and rows of workers silent since `staleBefore`. */
  async removeWorkers(id: string, staleBefore: number): Promise<void> {
    const sql = new SqlBuilder(this.sql.dialect);
    await this.sql.write(
      `DELETE FROM ${this.workers} WHERE id = ${sql.p(id, 'text')} OR heartbeat_at < ${sql.p(staleBefore, 'bigint')}`,
      sql.params,
    );
  }

  async liveWorkers(since: number): Promise<WorkerRow[]> {
    const sql = new SqlBuilder(this.sql.dialect);
    const rows = await this.sql.read(
      `SELECT * FROM ${this.workers} WHERE heartbeat_at >= ${sql.p(since, 'bigint')} ORDER BY started_at`,
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
}
