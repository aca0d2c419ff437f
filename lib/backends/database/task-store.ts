import type { EntityManager, QueryRunner } from 'typeorm';
import { TaskResultStatus } from '../../task/task-result-status.js';
import type { SqlConnection, TaskRow } from './sql-connection.js';
import { SqlBuilder, type SqlType } from './sql-builder.js';
import { INSERT_COLUMNS } from './task-columns.js';
import type { Completion } from './task-row.js';

const { READY, RUNNING } = TaskResultStatus;

/** Every statement on the tasks table, written once for all dialects. */
export class TaskStore {
  private readonly tasks: string;

  constructor(readonly sql: SqlConnection) {
    this.tasks = sql.dialect.quote(sql.tables.tasks);
  }

  private get dialect() {
    return this.sql.dialect;
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
          this.dialect.wakeOnInsert(insert, sql, this.sql.tables.tasks),
          sql.params,
          true,
        );
      }
    };
    const joined =
      manager?.queryRunner ??
      this.dialect.sharedTransaction(this.sql.dataSource, this.sql.connection);
    if (joined) return write(joined);
    await this.sql.withRunner((runner) =>
      chunks.length > 1 ? this.sql.inTransaction(runner, write) : write(runner),
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
    return this.sql.withRunner((runner) =>
      this.dialect.claim(runner, this.sql.tables, {
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
    return this.sql.write(text, sql.params);
  }

  /** Extends the leases of the rows a live worker holds. */
  async extendLeases(
    workerId: string,
    ids: readonly string[],
    leaseUntil: number,
  ): Promise<void> {
    if (ids.length === 0) return;
    const sql = new SqlBuilder(this.dialect);
    await this.sql.write(
      `UPDATE ${this.tasks} SET lease_expires_at = ${sql.p(leaseUntil, 'bigint')} ` +
        `WHERE id IN (${sql.list(ids, 'text')}) AND status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')}`,
      sql.params,
    );
  }

  /** RUNNING rows whose lease ran out: their worker stopped heartbeating. */
  async expired(now: number, limit: number): Promise<TaskRow[]> {
    const sql = new SqlBuilder(this.dialect);
    return this.sql.read(
      `SELECT * FROM ${this.tasks} WHERE status = '${RUNNING}' AND lease_expires_at < ${sql.p(now, 'bigint')} ` +
        `ORDER BY lease_expires_at LIMIT ${sql.p(limit, 'integer')}`,
      sql.params,
    );
  }

  async find(id: string): Promise<TaskRow | undefined> {
    const sql = new SqlBuilder(this.dialect);
    const [row] = await this.sql.read(
      `SELECT * FROM ${this.tasks} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
    return row;
  }

  /** Marks a READY row CANCELLED; returns whether it was READY. */
  async cancel(id: string): Promise<boolean> {
    const sql = new SqlBuilder(this.dialect);
    const changed = await this.sql.write(
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
    await this.sql.write(
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
      const [row] = await this.sql.read(
        `SELECT COUNT(*) AS count FROM ${this.tasks} WHERE ${where(sql)}`,
        sql.params,
      );
      return Number(row?.count ?? 0);
    }
    let total = 0;
    for (;;) {
      const select = new SqlBuilder(this.dialect);
      const rows = await this.sql.read(
        `SELECT seq FROM ${this.tasks} WHERE ${where(select)} ORDER BY seq LIMIT ${select.p(batchSize, 'integer')}`,
        select.params,
      );
      if (rows.length === 0) return total;
      const remove = new SqlBuilder(this.dialect);
      total += await this.sql.write(
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
    const rows = await this.sql.read(
      `SELECT queue_name, status, COUNT(*) AS count FROM ${this.tasks} GROUP BY queue_name, status ORDER BY queue_name, status`,
      [],
    );
    return rows.map((row) => ({
      queue: String(row.queue_name),
      status: String(row.status),
      count: Number(row.count),
    }));
  }
}
