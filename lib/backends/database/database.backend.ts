import type { DynamicModule } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { BackendAdmin } from '../backend-admin.js';
import {
  TaskBackend,
  type TaskBackendSettings,
  type TaskCheckMessage,
} from '../backend.js';
import { resolveOutboxOptions } from '../outbox-options.js';
import type { WorkerQueue } from '../worker-queue.js';
import { DatabaseAdmin } from './database-admin.js';
import { resolveDatabaseOptions } from './database-backend.options.js';
import { DatabaseStore } from './database-store.js';
import { DatabaseWorkerQueue } from './database-worker-queue.js';
import type { TaskTableKey } from './dialects/ddl.js';
import { registerTaskEntities } from './task-entities.module.js';
import { CURRENT_SCHEMA, VARCHAR_LENGTHS } from './task-columns.js';
import { schemaLag } from './schema-lag.js';
import { TASK_TABLE } from './task-record.entity.js';
import { decodeRow, encodeNewRow } from './task-row.js';
import type { SqlConnection } from './sql-connection.js';

/**
 * The tables `check()` looks at: the backend's own. An outbox table on its
 * DataSource is another alias's outbox's, which checks it itself.
 */
const CHECKED_TABLES: readonly TaskTableKey[] = [
  'tasks',
  'workers',
  'schedules',
];

/**
 * The rows to write for an enqueue of unique tasks, one per unique key (the
 * first given), and for each row given, the index of the one written for it.
 */
function firstPerKey(rows: readonly TaskResultData[]): {
  written: TaskResultData[];
  writtenFor: number[];
} {
  const written: TaskResultData[] = [];
  const byKey = new Map<string, number>();
  const writtenFor = rows.map((data) => {
    const first =
      data.uniqueKey === null ? undefined : byKey.get(data.uniqueKey);
    if (first !== undefined) return first;
    if (data.uniqueKey !== null) byKey.set(data.uniqueKey, written.length);
    written.push(data);
    return written.length - 1;
  });
  return { written, writtenFor };
}

/**
 * Stores tasks in the application's own database through TypeORM
 * (PostgreSQL, MySQL/MariaDB, SQLite); `tasks:work` workers run them.
 * An enqueue inside a transaction on the same DataSource is written in it.
 * This class is the TaskBackend API; the worker queue and administration
 * live in their own classes over the same store.
 */
export class DatabaseBackend extends TaskBackend {
  override readonly supportsDefer = true;
  override readonly supportsPriority = true;
  override readonly supportsGetResult = true;
  override readonly supportsTransactional = true;
  override readonly supportsRelay = true;
  private readonly store: DatabaseStore;
  private queue?: DatabaseWorkerQueue;
  private administration?: DatabaseAdmin;

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
    const options = resolveDatabaseOptions(alias, this.options);
    if (this.outbox) {
      const { dataSource } = resolveOutboxOptions(alias, this.outbox);
      if (dataSource === options.dataSource)
        throw new InvalidTaskBackendError(
          TaskMessages.outboxNotNeeded(alias, dataSource),
        );
    }
    this.store = new DatabaseStore(alias, options, (token) =>
      this.host.resolveProvider(token),
    );
  }

  override workerQueue(): WorkerQueue {
    this.queue ??= new DatabaseWorkerQueue(this.alias, this.store, {
      queues: this.queues,
      toResult: (data) => this.toResult(data),
      emit: (event, result) => this.host.emit(event, result),
    });
    return this.queue;
  }

  override admin(): BackendAdmin {
    this.administration ??= new DatabaseAdmin(this.alias, this.store);
    return this.administration;
  }

  override validateTask(task: TaskDefinition<any, any>): void {
    super.validateTask(task);
    const limits: [string, unknown, number][] = [
      ['task name', task.name, VARCHAR_LENGTHS.name],
      ['queue name', task.queueName, VARCHAR_LENGTHS.short],
      ['backend alias', task.backend, VARCHAR_LENGTHS.short],
    ];
    for (const [what, value, max] of limits) {
      if (typeof value === 'string' && value.length > max)
        throw new InvalidTaskError(
          TaskMessages.nameTooLong(task.name, what, value, max),
        );
    }
  }

  override validateUniqueKey(
    task: TaskDefinition<any, any>,
    key: string,
  ): void {
    if (key.length > VARCHAR_LENGTHS.name)
      throw new InvalidTaskError(
        TaskMessages.uniqueKeyTooLong(task.name, key, VARCHAR_LENGTHS.name),
      );
  }

  override async writesIn(manager: EntityManager): Promise<boolean> {
    return this.store.joins(manager);
  }

  async enqueue(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    return this.write(task, rows, true);
  }

  /**
   * Relayed rows (an outbox's, after its transaction committed) are written
   * on the backend's own connection, never in a transaction the
   * application holds on it (SQLite): one that rolled back would take them
   * along after their outbox rows were deleted.
   */
  protected override enqueueRelayed(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    return this.write(task, rows, false);
  }

  /** Stores `rows`; with `joinShared`, in a transaction the application holds on the backend's connection (see `Dialect.sharedTransaction`). */
  private async write(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
    joinShared: boolean,
  ): Promise<TaskResult<any>[]> {
    const { sql, tasks } = await this.store.open();
    const transaction =
      task.transaction && (await this.store.joins(task.transaction))
        ? task.transaction
        : null;
    const fail = (error: unknown) => {
      throw error instanceof InvalidTaskBackendError
        ? error
        : this.enqueueError(sql, task.name, rows.length, error);
    };
    let results: TaskResult<any>[];
    let stored: TaskResult<any>[];
    if (rows.every((data) => data.uniqueKey === null)) {
      await tasks
        .insert(rows.map(encodeNewRow), transaction, joinShared)
        .catch(fail);
      results = stored = rows.map((data) => this.toResult(data));
    } else {
      // One row per key (the first), then each row that another holds the key of.
      const { written, writtenFor } = firstPerKey(rows);
      const holders = await tasks
        .insertUnique(written.map(encodeNewRow), transaction, joinShared)
        .catch(fail);
      stored = [];
      const outcomes = written.map((data) => {
        const holder = holders.get(data.id);
        if (holder) return this.toResult(decodeRow(holder).data);
        const result = this.toResult(data);
        stored.push(result);
        return result;
      });
      results = writtenFor.map((index) => outcomes[index]);
    }
    // Workers here are woken, and listeners told, once the rows are visible.
    const announce = async () => {
      this.wakeFor(stored);
      for (const result of stored) await this.host.emit('enqueued', result);
    };
    if (!transaction || !this.host.afterCommit(transaction, announce))
      await announce();
    return results;
  }

  protected override async storedIds(
    rows: readonly TaskResultData[],
  ): Promise<Set<string>> {
    const { tasks } = await this.store.open();
    return tasks.storedIds(rows.map((row) => row.id));
  }

  /** Wakes this process's workers for `stored`: to claim the due ones, to promote the deferred ones when the first falls due. */
  private wakeFor(stored: readonly TaskResult<any>[]): void {
    const now = Date.now();
    let due = false;
    let firstDeferred = Infinity;
    for (const result of stored) {
      const at = result.snapshot.runAfter?.getTime() ?? now;
      if (at > now) firstDeferred = Math.min(firstDeferred, at);
      else due = true;
    }
    if (due) this.store.wakeLocalWorkers();
    if (firstDeferred < Infinity) this.store.wakeLocalWorkers(firstDeferred);
  }

  protected override async loadResult(id: string): Promise<TaskResultData> {
    const row = await (await this.store.open()).tasks.find(id);
    if (!row)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    return decodeRow(row).data;
  }

  /**
   * A READY result becomes CANCELLED at once. A RUNNING one keeps running
   * until its worker learns of the request (at once in this process, else
   * at its next heartbeat) and aborts its signal; its attempt then ends
   * CANCELLED, never retried.
   */
  override async cancel(id: string): Promise<TaskResult<unknown>> {
    const { row, accepted } = await (await this.store.open()).tasks.cancel(id);
    if (!row)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    const { data } = decodeRow(row);
    if (!accepted)
      throw new InvalidTaskError(TaskMessages.cannotCancel(id, data.status));
    if (data.status === TaskResultStatus.RUNNING) this.store.cancelLocally(id);
    return this.toResult(data);
  }

  override async check(): Promise<TaskCheckMessage[]> {
    try {
      const { sql } = await this.store.open();
      const lag = await schemaLag(sql, CURRENT_SCHEMA, CHECKED_TABLES);
      if (!lag) return [];
      return [
        {
          level: 'error',
          message:
            lag.kind === 'missing-tables'
              ? TaskMessages.tablesMissing(
                  this.alias,
                  sql.tables,
                  `no table '${lag.tables.join("', '")}'`,
                )
              : TaskMessages.schemaBehind(
                  this.alias,
                  sql.tables,
                  lag.differences,
                ),
        },
      ];
    } catch (error) {
      return [
        {
          level: 'error',
          message: TaskMessages.checkFailed(
            this.alias,
            (error as Error)?.message ?? String(error),
          ),
        },
      ];
    }
  }

  /** Why an enqueue failed, in words that name the real cause and the fix. */
  private enqueueError(
    sql: SqlConnection,
    taskName: string,
    count: number,
    error: unknown,
  ): InvalidTaskBackendError {
    const cause = (error as Error)?.message ?? String(error);
    if (sql.dialect.isMissingTable(error))
      return new InvalidTaskBackendError(
        TaskMessages.tablesMissing(this.alias, sql.tables, cause),
      );
    const message = sql.dialect.isRefusal(error)
      ? TaskMessages.enqueueRefused
      : sql.dialect.isTransient(error)
        ? TaskMessages.enqueueRaced
        : TaskMessages.enqueueFailed;
    return new InvalidTaskBackendError(
      message(this.alias, taskName, count, cause),
      { cause: error },
    );
  }

  override async close(): Promise<void> {
    await this.store.close();
  }
}
