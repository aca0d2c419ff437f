import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { LOGGER_CONTEXT } from '../../tasks.constants.js';
import { TaskMessages } from '../../tasks.messages.js';
import { resolveDataSource } from '../../typeorm/resolve-data-source.js';
import type { ResolvedDatabaseOptions } from './database-backend.options.js';
import { dialectFor, type Dialect } from './dialects/index.js';
import { SqlConnection } from './sql-connection.js';
import { TaskStore } from './task-store.js';
import { synchronizeTaskTables } from './synchronize-task-tables.js';
import { tablesFor } from './task-tables.js';
import { WorkerStore } from './worker-store.js';

/** The statements of an opened DatabaseBackend, by table. */
export interface OpenStore {
  sql: SqlConnection;
  tasks: TaskStore;
  workers: WorkerStore;
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
  private transactionTurn: Promise<unknown> = Promise.resolve();
  /** Workers of this process, woken at once by enqueues made here. */
  readonly localWakers = new Set<() => void>();

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
   * Runs `work` alone among the transactional attempts of this process when
   * the application has a single connection (SQLite), where two
   * transactions cannot be open at once; at once otherwise.
   */
  async serialized<T>(work: () => Promise<T>): Promise<T> {
    const { sql } = await this.open();
    if (!sql.dialect.serialTransactions) return work();
    const turn = this.transactionTurn.then(work);
    this.transactionTurn = turn.catch(() => undefined);
    return turn;
  }

  wakeLocalWorkers(): void {
    for (const wake of this.localWakers) wake();
  }

  async close(): Promise<void> {
    this.closed = true;
    const ready = this.ready;
    this.ready = undefined;
    const store = await ready?.catch(() => undefined);
    await store?.sql.close();
  }

  private async connect(): Promise<OpenStore> {
    const dataSource = await resolveDataSource(
      this.settings.dataSource,
      this.resolveProvider,
      `Backend '${this.alias}' (DatabaseBackend)`,
    );
    const dialect = dialectFor(dataSource);
    const tables = tablesFor(this.settings.tableName);
    await synchronizeTaskTables(dataSource, dialect, tables);
    const connection = await this.ownConnection(dialect, dataSource);
    const sql = new SqlConnection(dataSource, connection, dialect, tables);
    this.opened = dialect;
    return { sql, tasks: new TaskStore(sql), workers: new WorkerStore(sql) };
  }

  /** The dialect's own connection, prepared; the application's when that one cannot be prepared. */
  private async ownConnection(
    dialect: Dialect,
    dataSource: DataSource,
  ): Promise<DataSource> {
    const own = await dialect.ownConnection(dataSource);
    try {
      await dialect.prepare(own);
      return own;
    } catch (error) {
      if (own === dataSource) throw error;
      await own.destroy();
      new Logger(LOGGER_CONTEXT).warn(
        TaskMessages.ownConnectionFailed(this.alias, error),
      );
      await dialect.prepare(dataSource);
      return dataSource;
    }
  }
}
