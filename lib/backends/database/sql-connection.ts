import type { DataSource, QueryRunner } from 'typeorm';
import type { Dialect } from './dialects/dialect.js';
import type { TaskTables } from './task-tables.js';

/** A row as the driver returns it: numbers may arrive as strings, JSON as text. */
export type TaskRow = Record<string, unknown>;

/** How long deadlocks and busy errors are retried (asynchronously) before they are thrown. */
const TRANSIENT_RETRY_MS = 10_000;

/**
 * Where the backend's statements run: the application's DataSource (whose
 * transactions enqueues join), the connection the backend's own statements
 * use (see `Dialect.ownConnection`), the dialect and the table names.
 */
export class SqlConnection {
  constructor(
    /** The application's DataSource: transactions on it are joined. */
    readonly dataSource: DataSource,
    /** Where the backend's own statements run. */
    readonly connection: DataSource,
    readonly dialect: Dialect,
    readonly tables: TaskTables,
  ) {}

  async read(text: string, params: unknown[]): Promise<TaskRow[]> {
    return this.withRunner(
      async (runner) =>
        (await runner.query(text, params, true)).records as TaskRow[],
    );
  }

  /** Runs a write; returns the number of rows it changed. */
  async write(text: string, params: unknown[]): Promise<number> {
    return this.withRunner(
      async (runner) => (await runner.query(text, params, true)).affected ?? 0,
    );
  }

  /** Runs `work` on a connection of the backend, retrying deadlocks and busy errors with backoff. */
  async withRunner<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T> {
    return this.retryTransient(async () => {
      const runner = this.connection.createQueryRunner();
      try {
        return await work(runner);
      } finally {
        await runner.release();
      }
    });
  }

  /** Runs `work`, and again after a backoff while it fails with a deadlock or busy error (for a while). */
  async retryTransient<T>(work: () => Promise<T>): Promise<T> {
    const giveUpAt = Date.now() + TRANSIENT_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!this.dialect.isTransient(error) || Date.now() > giveUpAt)
          throw error;
        const backoff = Math.min(5 * 2 ** attempt, 250);
        await new Promise((resolve) =>
          setTimeout(resolve, backoff / 2 + Math.random() * backoff),
        );
      }
    }
  }

  async inTransaction<T>(
    runner: QueryRunner,
    work: (runner: QueryRunner) => Promise<T>,
  ): Promise<T> {
    await runner.startTransaction();
    try {
      const result = await work(runner);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      // A connection the server dropped (e.g. a packet too large) cannot roll back: the failure that matters is the first.
      await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
  }

  /** Closes the backend's own connection, if it has one apart from the application's. */
  async close(): Promise<void> {
    if (this.connection !== this.dataSource && this.connection.isInitialized)
      await this.connection.destroy();
  }
}
