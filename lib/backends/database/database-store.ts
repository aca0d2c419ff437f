import type { DataSource, EntityManager } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import { resolveDataSource } from '../../typeorm/resolve-data-source.js';
import type { ResolvedDatabaseOptions } from './database-backend.options.js';
import type { Dialect } from './dialects/index.js';
import {
  openSqlConnection,
  preparedConnection,
} from './open-sql-connection.js';
import { ScheduleStore } from './schedule-store.js';
import type { SqlConnection } from './sql-connection.js';
import { TaskStore } from './task-store.js';
import { tablesFor } from './task-tables.js';
import { WorkerStore } from './worker-store.js';

/** The statements of an opened DatabaseBackend, by table. */
export interface OpenStore {
  sql: SqlConnection;
  tasks: TaskStore;
  workers: WorkerStore;
  schedules: ScheduleStore;
}

/**
 * A DatabaseBackend's SQL layer, shared by its jobs (the API, the worker
 * queue, administration): opened on first use, refused once closed, and the
 * wake-ups of this process's workers.
 */
export class DatabaseStore {
  private ready?: Promise<OpenStore>;
  private closed = false;
  private opened?: Dialect;
  /** The end of the last transactional attempt queued (SQLite). */
  private attemptTurn: Promise<unknown> = Promise.resolve();
  /** The transactional attempts' own connection (SQLite). */
  private attemptConnection?: DataSource;
  /** Workers of this process, woken at once by enqueues made here (with the due time of deferred ones). */
  readonly localWakers = new Set<(dueAt?: number) => void>();
  /** Workers of this process, told at once of cancels of running tasks requested here. */
  readonly localCancelWatchers = new Set<(id: string) => void>();

  constructor(
    private readonly alias: string,
    readonly settings: ResolvedDatabaseOptions,
    private readonly resolveProvider: (token: unknown) => unknown,
  ) {}

  /** The opened store; opens it on first use. */
  open(): Promise<OpenStore> {
    if (this.closed) {
      return Promise.reject(
        new InvalidTaskBackendError(TaskMessages.backendClosed(this.alias)),
      );
    }
    this.ready ??= this.connect().catch((error) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  /** The dialect, once the store has been opened. */
  get dialect(): Dialect | undefined {
    return this.opened;
  }

  /**
   * Runs `work` with a connection for a transactional attempt: one from the
   * application's pool, or, where the application has a single connection
   * (SQLite), a connection of the attempts' own, used by one attempt at a
   * time (no other statement of the application joins its transaction).
   */
  async withAttemptConnection<T>(
    work: (dataSource: DataSource) => Promise<T>,
  ): Promise<T> {
    const { sql } = await this.open();
    if (!sql.dialect.serialTransactions) return work(sql.dataSource);
    const turn = this.attemptTurn.then(async () => {
      this.attemptConnection ??= await preparedConnection(
        sql.dialect,
        sql.dataSource,
        `Backend '${this.alias}'`,
      );
      return work(this.attemptConnection);
    });
    this.attemptTurn = turn.catch(() => undefined);
    return turn;
  }

  /** Whether enqueues made in the transaction of `manager` are written in it (the application's or an attempt's). */
  async joins(manager: EntityManager): Promise<boolean> {
    const { sql } = await this.open();
    return (
      manager.connection === sql.dataSource ||
      (this.attemptConnection !== undefined &&
        manager.connection === this.attemptConnection)
    );
  }

  /** Wakes this process's workers: to claim, or to promote deferred tasks at `dueAt` (epoch ms). */
  wakeLocalWorkers(dueAt?: number): void {
    for (const wake of this.localWakers) wake(dueAt);
  }

  /** Tells this process's workers that the cancel of running task `id` was requested. */
  cancelLocally(id: string): void {
    for (const onCancel of this.localCancelWatchers) onCancel(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    const ready = this.ready;
    this.ready = undefined;
    const store = await ready?.catch(() => undefined);
    await store?.sql.close();
    if (
      this.attemptConnection?.isInitialized &&
      this.attemptConnection !== store?.sql.dataSource
    )
      await this.attemptConnection.destroy();
  }

  private async connect(): Promise<OpenStore> {
    const dataSource = await resolveDataSource(
      this.settings.dataSource,
      this.resolveProvider,
      `Backend '${this.alias}' (DatabaseBackend)`,
    );
    const sql = await openSqlConnection(
      dataSource,
      tablesFor(this.settings.tableName),
      `Backend '${this.alias}'`,
    );
    this.opened = sql.dialect;
    return {
      sql,
      tasks: new TaskStore(sql),
      workers: new WorkerStore(sql),
      schedules: new ScheduleStore(sql),
    };
  }
}
