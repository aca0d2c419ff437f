import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { TaskResultStatus } from '../../task/task-result-status.js';
import type { Dialect } from './dialects/dialect.js';
import { SqlBuilder, type SqlType } from './sql-builder.js';
import { INSERT_COLUMNS } from './task-columns.js';
import type { TaskRow } from './task-row.js';
import type { TaskTables } from './task-tables.js';

/** The final (or retry) state written for one attempt. */
export interface Completion {
  id: string;
  workerId: string;
  attempt: number;
  status: TaskResultStatus;
  finishedAt: number | null;
  /** JSON text, or null. */
  returnValue: string | null;
  /** JSON text of the whole errors list. */
  errors: string;
  /** When a READY (retried) row becomes claimable again. */
  availableAt: number | null;
}

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

/** How long deadlocks and busy errors are retried (asynchronously) before they are thrown. */
const TRANSIENT_RETRY_MS = 10_000;
const { READY, RUNNING } = TaskResultStatus;

/** Every statement the DatabaseBackend runs, written once for all dialects. */
export class TaskStore {
  private readonly tasks: string;
  private readonly workers: string;

  constructor(
    /** The application's DataSource: transactions on it are joined. */
    readonly dataSource: DataSource,
    /** Where the backend's own statements run (see `Dialect.ownConnection`). */
    private readonly connection: DataSource,
    readonly dialect: Dialect,
    readonly tables: TaskTables,
    private readonly channel: string,
  ) {
    this.tasks = dialect.quote(tables.tasks);
    this.workers = dialect.quote(tables.workers);
  }

  /** Inserts rows (already encoded), joining `manager`'s transaction when given. */
  async insert(
    rows: unknown[][],
    manager?: EntityManager | null,
  ): Promise<void> {
    const chunks: unknown[][][] = [];
    const size = this.dialect.insertChunk;
    for (let i = 0; i < rows.length; i += size)
      chunks.push(rows.slice(i, i + size));
    const write = async (runner: QueryRunner) => {
      for (const chunk of chunks) {
        const sql = new SqlBuilder(this.dialect);
        const insert = this.dialect.insertSql(
          this.tasks,
          INSERT_COLUMNS,
          chunk,
          sql,
        );
        await runner.query(
          this.dialect.wakeOnInsert(insert, sql, this.channel),
          sql.params,
          true,
        );
      }
    };
    const joined =
      manager?.queryRunner ??
      this.dialect.sharedTransaction(this.dataSource, this.connection);
    if (joined) return write(joined);
    await this.withRunner((runner) =>
      chunks.length > 1 ? this.inTransaction(runner, write) : write(runner),
    );
  }

  /** Claims up to `limit` READY rows (of `queues`, or every queue when null) for a worker. */
  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
    leaseMs: number,
  ): Promise<TaskRow[]> {
    const now = Date.now();
    return this.withRunner((runner) =>
      this.dialect.claim(runner, this.tables, {
        selectReady: (sql) => this.selectReady(sql, queues, limit, now),
        setRunning: (sql) =>
          `status = '${RUNNING}', worker_id = ${sql.p(workerId, 'text')}, attempts = attempts + 1, ` +
          `started_at = COALESCE(started_at, ${sql.p(now, 'bigint')}), last_attempted_at = ${sql.p(now, 'bigint')}, ` +
          `lease_expires_at = ${sql.p(now + leaseMs, 'bigint')}, ` +
          `worker_ids = ${this.dialect.appendToJsonArray('worker_ids', sql.p(workerId, 'text'))}`,
      }),
    );
  }

  /** The claim query's row selection: what the claim index serves. */
  selectReady(
    sql: SqlBuilder,
    queues: readonly string[] | null,
    limit: number,
    now: number,
  ): string {
    return (
      `SELECT seq FROM ${this.tasks} WHERE status = '${READY}' AND available_at <= ${sql.p(now, 'bigint')}` +
      (queues ? ` AND queue_name IN (${sql.list(queues, 'text')})` : '') +
      ` ORDER BY priority DESC, available_at, seq LIMIT ${sql.p(limit, 'integer')}`
    );
  }

  /**
   * Writes the outcome of many attempts in one statement. A row is only
   * written while the same worker still holds the same attempt, so a
   * rescued task is never overwritten by its old worker. Returns rows written.
   */
  async complete(
    completions: readonly Completion[],
    /** Only rows whose lease ran out before this time (a rescue). */
    leaseExpiredBefore?: number,
  ): Promise<number> {
    if (completions.length === 0) return 0;
    const sql = new SqlBuilder(this.dialect);
    const cases = (pick: (c: Completion) => unknown, type: SqlType) =>
      `CASE id ${completions.map((c) => `WHEN ${sql.p(c.id, 'text')} THEN ${sql.p(pick(c), type)}`).join(' ')} END`;
    const text =
      `UPDATE ${this.tasks} SET status = ${cases((c) => c.status, 'text')}, ` +
      `finished_at = ${cases((c) => c.finishedAt, 'bigint')}, ` +
      `return_value = ${cases((c) => c.returnValue, 'text')}, ` +
      `errors = ${cases((c) => c.errors, 'text')}, ` +
      `available_at = COALESCE(${cases((c) => c.availableAt, 'bigint')}, available_at), ` +
      `worker_id = NULL, lease_expires_at = NULL ` +
      `WHERE id IN (${sql.list(
        completions.map((c) => c.id),
        'text',
      )}) AND status = '${RUNNING}' ` +
      `AND worker_id = ${cases((c) => c.workerId, 'text')} AND attempts = ${cases((c) => c.attempt, 'integer')}` +
      (leaseExpiredBefore === undefined
        ? ''
        : ` AND lease_expires_at < ${sql.p(leaseExpiredBefore, 'bigint')}`);
    return this.write(text, sql.params);
  }

  /** Extends the leases of the rows a live worker holds. */
  async extendLeases(
    workerId: string,
    ids: readonly string[],
    leaseUntil: number,
  ): Promise<void> {
    if (ids.length === 0) return;
    const sql = new SqlBuilder(this.dialect);
    await this.write(
      `UPDATE ${this.tasks} SET lease_expires_at = ${sql.p(leaseUntil, 'bigint')} ` +
        `WHERE id IN (${sql.list(ids, 'text')}) AND status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')}`,
      sql.params,
    );
  }

  /** RUNNING rows whose lease ran out: their worker stopped heartbeating. */
  async expired(now: number, limit: number): Promise<TaskRow[]> {
    const sql = new SqlBuilder(this.dialect);
    return this.read(
      `SELECT * FROM ${this.tasks} WHERE status = '${RUNNING}' AND lease_expires_at < ${sql.p(now, 'bigint')} ` +
        `ORDER BY lease_expires_at LIMIT ${sql.p(limit, 'integer')}`,
      sql.params,
    );
  }

  async find(id: string): Promise<TaskRow | undefined> {
    const sql = new SqlBuilder(this.dialect);
    const [row] = await this.read(
      `SELECT * FROM ${this.tasks} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
    return row;
  }

  /** Marks a READY row CANCELLED; returns whether it was READY. */
  async cancel(id: string): Promise<boolean> {
    const sql = new SqlBuilder(this.dialect);
    const changed = await this.write(
      `UPDATE ${this.tasks} SET status = '${TaskResultStatus.CANCELLED}', finished_at = ${sql.p(Date.now(), 'bigint')} ` +
        `WHERE id = ${sql.p(id, 'text')} AND status = '${READY}'`,
      sql.params,
    );
    return changed > 0;
  }

  async saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: string,
  ): Promise<void> {
    const sql = new SqlBuilder(this.dialect);
    await this.write(
      `UPDATE ${this.tasks} SET progress = ${sql.p(progress, 'double')}, metadata = ${sql.p(metadata, 'text')} ` +
        `WHERE id = ${sql.p(id, 'text')} AND status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')}`,
      sql.params,
    );
  }

  /** Deletes (or with `dryRun` counts) finished rows in batches; returns how many. */
  async prune(
    statuses: readonly TaskResultStatus[],
    finishedBefore: number,
    batchSize: number,
    dryRun: boolean,
  ): Promise<number> {
    const where = (sql: SqlBuilder) =>
      `status IN (${sql.list(statuses, 'text')}) AND finished_at < ${sql.p(finishedBefore, 'bigint')}`;
    if (dryRun) {
      const sql = new SqlBuilder(this.dialect);
      const [row] = await this.read(
        `SELECT COUNT(*) AS count FROM ${this.tasks} WHERE ${where(sql)}`,
        sql.params,
      );
      return Number(row?.count ?? 0);
    }
    let total = 0;
    for (;;) {
      const select = new SqlBuilder(this.dialect);
      const rows = await this.read(
        `SELECT seq FROM ${this.tasks} WHERE ${where(select)} ORDER BY seq LIMIT ${select.p(batchSize, 'integer')}`,
        select.params,
      );
      if (rows.length === 0) return total;
      const remove = new SqlBuilder(this.dialect);
      total += await this.write(
        `DELETE FROM ${this.tasks} WHERE seq IN (${remove.list(
          rows.map((row) => row.seq),
          'bigint',
        )})`,
        remove.params,
      );
      if (rows.length < batchSize) return total;
    }
  }

  /** Row counts per queue and status. */
  async counts(): Promise<{ queue: string; status: string; count: number }[]> {
    const rows = await this.read(
      `SELECT queue_name, status, COUNT(*) AS count FROM ${this.tasks} GROUP BY queue_name, status ORDER BY queue_name, status`,
      [],
    );
    return rows.map((row) => ({
      queue: String(row.queue_name),
      status: String(row.status),
      count: Number(row.count),
    }));
  }

  /**
   * Records a worker. A row left by an earlier worker with the same id that
   * has stopped heartbeating (since `staleBefore`) is replaced; a live one
   * makes the insert fail.
   */
  async registerWorker(worker: WorkerRow, staleBefore: number): Promise<void> {
    const stale = new SqlBuilder(this.dialect);
    await this.write(
      `DELETE FROM ${this.workers} WHERE id = ${stale.p(worker.id, 'text')} AND heartbeat_at < ${stale.p(staleBefore, 'bigint')}`,
      stale.params,
    );
    const sql = new SqlBuilder(this.dialect);
    const values = [
      worker.id,
      worker.hostname,
      worker.pid,
      worker.queues,
      worker.concurrency,
      worker.startedAt,
      worker.heartbeatAt,
    ];
    await this.write(
      `INSERT INTO ${this.workers} (id, hostname, pid, queues, concurrency, started_at, heartbeat_at) VALUES (${sql.list(values)})`,
      sql.params,
    );
  }

  async heartbeatWorker(id: string, now: number): Promise<void> {
    const sql = new SqlBuilder(this.dialect);
    await this.write(
      `UPDATE ${this.workers} SET heartbeat_at = ${sql.p(now, 'bigint')} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
  }

  /** Removes a worker's row, and rows of workers silent since `staleBefore`. */
  async removeWorkers(id: string, staleBefore: number): Promise<void> {
    const sql = new SqlBuilder(this.dialect);
    await this.write(
      `DELETE FROM ${this.workers} WHERE id = ${sql.p(id, 'text')} OR heartbeat_at < ${sql.p(staleBefore, 'bigint')}`,
      sql.params,
    );
  }

  async liveWorkers(since: number): Promise<WorkerRow[]> {
    const sql = new SqlBuilder(this.dialect);
    const rows = await this.read(
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

  /** Whether the tasks table exists and has the columns this version uses. */
  async tableProblem(): Promise<string | null> {
    try {
      await this.read(
        `SELECT ${INSERT_COLUMNS.join(', ')} FROM ${this.tasks} WHERE 1 = 0`,
        [],
      );
      await this.read(
        `SELECT id, heartbeat_at FROM ${this.workers} WHERE 1 = 0`,
        [],
      );
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** Closes the backend's own connection, if it has one apart from the application's. */
  async close(): Promise<void> {
    if (this.connection !== this.dataSource && this.connection.isInitialized)
      await this.connection.destroy();
  }

  private async read(text: string, params: unknown[]): Promise<TaskRow[]> {
    return this.withRunner(
      async (runner) =>
        (await runner.query(text, params, true)).records as TaskRow[],
    );
  }

  private async write(text: string, params: unknown[]): Promise<number> {
    return this.withRunner(
      async (runner) => (await runner.query(text, params, true)).affected ?? 0,
    );
  }

  /** Runs `work` on a pooled connection, retrying deadlocks and busy errors. */
  /** Runs `work` on a connection of the backend, retrying deadlocks and busy errors with backoff. */
  private async withRunner<T>(
    work: (runner: QueryRunner) => Promise<T>,
  ): Promise<T> {
    const giveUpAt = Date.now() + TRANSIENT_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      const runner = this.connection.createQueryRunner();
      try {
        return await work(runner);
      } catch (error) {
        if (!this.dialect.isTransient(error) || Date.now() > giveUpAt)
          throw error;
        const backoff = Math.min(5 * 2 ** attempt, 250);
        await new Promise((resolve) =>
          setTimeout(resolve, backoff / 2 + Math.random() * backoff),
        );
      } finally {
        await runner.release();
      }
    }
  }

  private async inTransaction(
    runner: QueryRunner,
    work: (runner: QueryRunner) => Promise<void>,
  ): Promise<void> {
    await runner.startTransaction();
    try {
      await work(runner);
      await runner.commitTransaction();
    } catch (error) {
      await runner.rollbackTransaction();
      throw error;
    }
  }
}
