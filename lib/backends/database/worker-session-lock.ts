import type { QueryRunner } from 'typeorm';
import type { SqlConnection } from './sql-connection.js';
import { SqlBuilder } from './sql-builder.js';

/**
 * A worker's session lock (where the database has one): taken on a
 * connection of the worker's own and held for as long as the worker lives,
 * so that the database can tell a live worker from a gone one whatever its
 * heartbeats. Each heartbeat pings the connection and re-takes the lock on a
 * new one when the old one broke.
 */
export class WorkerSessionLock {
  private runner?: QueryRunner;
  private held = false;

  constructor(
    private readonly sql: SqlConnection,
    private readonly workerId: string,
    private readonly leaseMs: number,
  ) {}

  /** Makes sure the lock is held; false when another session still holds it (an old session of this worker the server has not dropped yet). */
  async ensure(): Promise<boolean> {
    const lock = this.sql.dialect.sessionLock;
    if (!lock) return true;
    if (this.runner) {
      try {
        await this.runner.query('SELECT 1');
      } catch {
        await this.drop();
      }
    }
    if (!this.runner) {
      const runner = this.sql.connection.createQueryRunner();
      try {
        await runner.connect();
        for (const statement of lock.prepare(this.leaseMs))
          await runner.query(statement);
      } catch (error) {
        await runner.release().catch(() => undefined);
        throw error;
      }
      this.runner = runner;
      this.held = false;
    }
    if (!this.held) {
      const sql = new SqlBuilder(this.sql.dialect);
      const [row] = await this.runner.query(
        lock.acquire(this.sql.tables.tasks, this.workerId, sql),
        sql.params,
      );
      this.held = row?.held === true || Number(row?.held) === 1;
    }
    return this.held;
  }

  /** Releases the lock and its connection. */
  async release(): Promise<void> {
    const lock = this.sql.dialect.sessionLock;
    if (this.runner && lock)
      await this.runner.query(lock.releaseAll).catch(() => undefined);
    await this.drop();
  }

  private async drop(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    this.held = false;
    await runner?.release().catch(() => undefined);
  }
}
