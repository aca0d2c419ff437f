import { Logger, type DynamicModule } from '@nestjs/common';
import { LOGGER_CONTEXT } from '../../tasks.constants.js';
import type { DataSource, EntityManager } from 'typeorm';
import { transactionScopeOf } from '../../transactions/query-runner-scope.js';
import { registerTaskEntities } from './task-entities.module.js';
import { TASK_TABLE } from './task-record.entity.js';
import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import { TaskInterruptedError } from '../../errors/task-interrupted.error.js';
import { toErrorRecord } from '../../task/task-error-record.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import { type TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerInfo,
  WorkerSource,
} from '../../worker/worker-source.js';
import { hostname } from 'node:os';
import type {
  AdministrableBackend,
  BackendStatus,
  PruneRequest,
} from '../backend-admin.js';
import {
  TaskBackend,
  type TaskBackendSettings,
  type TaskCheckMessage,
} from '../backend.js';
import { resolveDataSource } from '../../typeorm/resolve-data-source.js';
import {
  resolveDatabaseOptions,
  type ResolvedDatabaseOptions,
} from './database-backend.options.js';
import { dialectFor, type Dialect } from './dialects/index.js';
import { TaskStore, type Completion } from './task-store.js';
import { decodeRow, encodeNewRow, type TaskRow } from './task-row.js';
import { tablesFor } from './task-tables.js';
import { synchronizeTaskTables } from './synchronize-task-tables.js';

/** Orders number tuples element by element. */
function compareTuples(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Rows rescued per heartbeat at most. */
const RESCUE_BATCH = 100;

/**
 * Stores tasks in the application's own database through TypeORM
 * (PostgreSQL, MySQL/MariaDB, SQLite); `tasks:work` workers run them.
 * An enqueue inside a transaction on the same DataSource is written in it.
 */
export class DatabaseBackend
  extends TaskBackend
  implements WorkerSource, AdministrableBackend
{
  override readonly supportsDefer = true;
  override readonly supportsPriority = true;
  override readonly supportsGetResult = true;
  private readonly settings: ResolvedDatabaseOptions;
  private storeReady?: Promise<TaskStore>;
  private dialect?: Dialect;
  private closed = false;
  /** Workers of this process, woken at once by enqueues made here. */
  private readonly localWakers = new Set<() => void>();

  /** With `@nestjs/typeorm`'s `autoLoadEntities`, registers the task entities for the configured DataSource. */
  static moduleImports(
    settings: TaskBackendSettings,
  ): Promise<DynamicModule>[] {
    const { dataSource = 'default', tableName } = settings.options ?? {};
    const defaultTables = tableName === undefined || tableName === TASK_TABLE;
    return typeof dataSource === 'string' && defaultTables
      ? [registerTaskEntities(dataSource)]
      : [];
  }

  constructor(alias: string, settings: TaskBackendSettings = {}) {
    super(alias, settings);
    this.settings = resolveDatabaseOptions(alias, this.options);
  }

  get leaseMs(): number {
    return this.settings.leaseMs;
  }

  /** The DataSource and SQL layer, opened on first use; refused once the backend is closed. */
  private store(): Promise<TaskStore> {
    if (this.closed) {
      return Promise.reject(
        new InvalidTaskBackendError(
          `Backend '${this.alias}' (DatabaseBackend) is closed: the application is shutting down.`,
        ),
      );
    }
    this.storeReady ??= this.open().catch((error) => {
      this.storeReady = undefined;
      throw error;
    });
    return this.storeReady;
  }

  private async open(): Promise<TaskStore> {
    const dataSource = await resolveDataSource(
      this.settings.dataSource,
      (token) => this.host.resolveProvider(token),
      `Backend '${this.alias}' (DatabaseBackend)`,
    );
    const dialect = dialectFor(dataSource);
    await synchronizeTaskTables(
      dataSource,
      dialect,
      tablesFor(this.settings.tableName),
    );
    const connection = await this.connect(dialect, dataSource);
    this.dialect = dialect;
    const tables = tablesFor(this.settings.tableName);
    return new TaskStore(dataSource, connection, dialect, tables, tables.tasks);
  }

  /** The dialect's own connection, prepared; the application's when that one cannot be prepared. */
  private async connect(
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
        `Backend '${this.alias}': a connection of its own could not be prepared (${(error as Error)?.message ?? error}); it shares the application's.`,
      );
      await dialect.prepare(dataSource);
      return dataSource;
    }
  }

  override validateTask(task: TaskDefinition<any, any>): void {
    super.validateTask(task);
    if (task.uniqueKey !== null || task.state.uniqueKeyOf !== null) {
      throw new InvalidTaskError(
        `Task '${task.name}': DatabaseBackend '${this.alias}' does not support 'unique' tasks in this version; remove the option or use DummyBackend.`,
      );
    }
  }

  override async writesIn(manager: EntityManager): Promise<boolean> {
    return manager.connection === (await this.store()).dataSource;
  }

  async enqueue(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const store = await this.store();
    const transaction =
      task.transaction?.connection === store.dataSource
        ? task.transaction
        : null;
    await store
      .insert(rows.map(encodeNewRow), transaction)
      .catch(async (error: unknown) => {
        throw (await this.tableAdvice(store)) ?? error;
      });
    const results = rows.map((data) => this.toResult(data));
    // Workers here are woken, and listeners told, once the rows are visible.
    const announce = async () => {
      for (const wake of this.localWakers) wake();
      for (const result of results) await this.host.emit('enqueued', result);
    };
    const scope = transaction ? transactionScopeOf(transaction) : null;
    if (scope) scope.onCommit(announce);
    else await announce();
    return results;
  }

  protected override async loadResult(id: string): Promise<TaskResultData> {
    const row = await (await this.store()).find(id);
    if (!row)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    return decodeRow(row).data;
  }

  override async cancel(id: string): Promise<TaskResult<unknown>> {
    const cancelled = await (await this.store()).cancel(id);
    const result = await this.getResult(id);
    if (!cancelled)
      throw new InvalidTaskError(TaskMessages.cannotCancel(id, result.status));
    return result;
  }

  override async check(): Promise<TaskCheckMessage[]> {
    let store: TaskStore;
    try {
      store = await this.store();
    } catch (error) {
      return [{ level: 'error', message: (error as Error).message }];
    }
    const advice = await this.tableAdvice(store);
    return advice ? [{ level: 'error', message: advice.message }] : [];
  }

  /** An error explaining how to create the tables, when they are missing or outdated. */
  private async tableAdvice(
    store: TaskStore,
  ): Promise<InvalidTaskBackendError | null> {
    const problem = await store.tableProblem();
    if (!problem) return null;
    return new InvalidTaskBackendError(
      `Backend '${this.alias}' (DatabaseBackend): the tables '${store.tables.tasks}' and '${store.tables.workers}' are missing or outdated (${problem}). ` +
        `Add taskMigrations to your DataSource's migrations and run them, or register TaskRecord and TaskWorkerRecord with synchronize: true in development.`,
    );
  }

  override async close(): Promise<void> {
    this.closed = true;
    const ready = this.storeReady;
    this.storeReady = undefined;
    const store = await ready?.catch(() => undefined);
    await store?.close();
  }

  async prune(request: PruneRequest): Promise<number> {
    return (await this.store()).prune(
      request.statuses,
      request.finishedBefore.getTime(),
      request.batchSize,
      request.dryRun,
    );
  }

  async status(): Promise<BackendStatus> {
    const store = await this.store();
    const workers = await store.liveWorkers(Date.now() - this.leaseMs);
    return {
      counts: await store.counts(),
      workers: workers.map((worker) => ({
        ...worker,
        queues: JSON.parse(worker.queues) as string[],
        startedAt: new Date(worker.startedAt),
        heartbeatAt: new Date(worker.heartbeatAt),
      })),
    };
  }

  // ---- WorkerSource ----

  async registerWorker(info: WorkerInfo): Promise<void> {
    const now = Date.now();
    const row = {
      id: info.workerId,
      hostname: hostname(),
      pid: process.pid,
      queues: JSON.stringify(info.queues ?? ['*']),
      concurrency: info.concurrency,
      startedAt: now,
      heartbeatAt: now,
    };
    const store = await this.store();
    try {
      await store.registerWorker(row, now - this.leaseMs);
    } catch (error) {
      const live = await store.liveWorkers(now - this.leaseMs).catch(() => []);
      if (!live.some((worker) => worker.id === info.workerId)) throw error;
      throw new InvalidTaskBackendError(
        `Worker id '${info.workerId}' is in use by a live worker on backend '${this.alias}'. ` +
          `Give every worker its own --worker-id (or none: the default is unique).`,
      );
    }
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await (
      await this.store()
    ).removeWorkers(workerId, Date.now() - 10 * this.leaseMs);
  }

  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]> {
    const accepted = queues ?? (this.queues.length ? this.queues : null);
    const rows = await (
      await this.store()
    ).claim(workerId, accepted, limit, this.leaseMs);
    const order = (row: TaskRow) => [
      -Number(row.priority),
      Number(row.available_at),
      Number(row.seq),
    ];
    return rows
      .sort((a, b) => compareTuples(order(a), order(b)))
      .map(decodeRow)
      .map(({ data, problem }) => ({ result: this.toResult(data), problem }));
  }

  async complete(records: readonly AttemptRecord[]): Promise<number> {
    return this.write(records);
  }

  isRefusal(error: unknown): boolean {
    return this.dialect?.isRefusal(error) ?? false;
  }

  /**
   * Writes attempt outcomes in one statement; returns how many rows were
   * still held, and so written. A rescue only writes rows whose lease is
   * still expired (no heartbeat renewed it meanwhile).
   */
  private async write(
    records: readonly AttemptRecord[],
    leaseExpiredBefore?: number,
  ): Promise<number> {
    const completions: Completion[] = records.map(
      ({ data, workerId, attempt, retryAt }) => ({
        id: data.id,
        workerId,
        attempt,
        status: data.status,
        finishedAt: data.finishedAt?.getTime() ?? null,
        returnValue:
          data.status === TaskResultStatus.SUCCESSFUL
            ? JSON.stringify(data.returnValue ?? null)
            : null,
        errors: JSON.stringify(data.errors),
        availableAt: retryAt?.getTime() ?? null,
      }),
    );
    return (await this.store()).complete(completions, leaseExpiredBefore);
  }

  async heartbeat(workerId: string, heldIds: readonly string[]): Promise<void> {
    const store = await this.store();
    const now = Date.now();
    await store.extendLeases(workerId, heldIds, now + this.leaseMs);
    await store.heartbeatWorker(workerId, now);
  }

  async rescueExpired(): Promise<number> {
    const store = await this.store();
    const now = Date.now();
    const rows = await store.expired(now, RESCUE_BATCH);
    if (rows.length === 0) return 0;
    const records = rows.map((row): AttemptRecord => {
      const { data } = decodeRow(row);
      const workerId = String(row.worker_id);
      const error = toErrorRecord(
        new TaskInterruptedError(
          `Worker ${workerId} stopped heartbeating while running task '${data.taskName}' (attempt ${data.attempts}); its lease expired.`,
        ),
      );
      const retry = data.attempts < data.maxAttempts;
      const errors = [...data.errors, error];
      return retry
        ? {
            data: { ...data, status: TaskResultStatus.READY, errors },
            workerId,
            attempt: data.attempts,
            retryAt: new Date(now),
          }
        : {
            data: {
              ...data,
              status: TaskResultStatus.FAILED,
              errors,
              finishedAt: new Date(now),
            },
            workerId,
            attempt: data.attempts,
            retryAt: null,
          };
    });
    // One guarded statement per row (rescues are rare): only the worker that
    // actually rescued a row reports it, however many rescue at once.
    let written = 0;
    for (const record of records) {
      if ((await this.write([record], now)) === 0) continue;
      written += 1;
      if (record.data.status === TaskResultStatus.FAILED) {
        await this.host.emit('finished', this.toResult(record.data));
      }
    }
    return written;
  }

  async saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    await (
      await this.store()
    ).saveProgress(id, workerId, progress, JSON.stringify(metadata));
  }

  async listen(onWake: () => void): Promise<() => Promise<void>> {
    const store = await this.store();
    this.localWakers.add(onWake);
    const unlisten = await store.dialect.listen(
      store.dataSource,
      store.tables.tasks,
      onWake,
    );
    return async () => {
      this.localWakers.delete(onWake);
      await unlisten();
    };
  }
}
