import type { DynamicModule } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import type { TaskDefinition } from '../task/task-definition.js';
import { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';
import {
  DEFAULT_PRIORITY,
  DEFAULT_QUEUE_NAME,
  MAX_PRIORITY,
  MIN_PRIORITY,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { findJsonProblem } from '../task/json-value.js';
import type { BackendAdmin } from './backend-admin.js';
import type { TaskBackendHost } from './backend-host.js';
import type { WorkerQueue } from './worker-queue.js';

/**
 * The `outbox` of a backend alias: enqueues made inside a transaction on
 * this DataSource, which the backend cannot join, are written to the outbox
 * table in that transaction and relayed to the backend (`relay`) once it
 * has committed.
 */
export interface TaskOutboxOptions {
  /** A TypeORM DataSource, or the name it was registered under with `@nestjs/typeorm`. Default `'default'`. */
  dataSource?: string | DataSource;
  /** The tasks table its table is named after (`<tableName>_outbox`, as `createTaskMigrations(tableName)` creates it). Default: the table `nestjs_task_outbox` of `taskMigrations`. */
  tableName?: string;
}

/** The configuration a backend is constructed with. */
export interface TaskBackendSettings {
  queues?: string[];
  options?: Record<string, unknown>;
  enqueueOnCommit?: boolean;
  outbox?: TaskOutboxOptions;
}

/** A backend class, as named in `TasksModule.forRoot({ backends })`. */
export type TaskBackendClass = (new (
  alias: string,
  settings: TaskBackendSettings,
) => TaskBackend) & {
  /** Modules the backend needs in the application (e.g. entity registration), given its configuration. */
  moduleImports?(
    settings: TaskBackendSettings,
  ): (DynamicModule | Promise<DynamicModule>)[];
};

/** A problem found by `check()`. */
export interface TaskCheckMessage {
  level: 'error' | 'warning';
  message: string;
}

/**
 * The base of every backend. Constructors only store configuration;
 * connections open lazily, on first use.
 */
export abstract class TaskBackend {
  /** Can run a task later than enqueued (`runAfter`). */
  readonly supportsDefer: boolean = false;
  /** Honours `priority` when choosing what runs next. */
  readonly supportsPriority: boolean = false;
  /** Can look results up by id, from any process. */
  readonly supportsGetResult: boolean = false;
  /** Can run `transactional` tasks: each attempt in a transaction its outcome is recorded in. */
  readonly supportsTransactional: boolean = false;
  /** Can store results allocated earlier at most once each (`relay`), so that its alias may have an `outbox`. */
  readonly supportsRelay: boolean = false;
  /** Queue names accepted; empty means any. */
  readonly queues: readonly string[];
  /** Hold enqueues made inside a transaction until it commits. */
  readonly enqueueOnCommit: boolean;
  /** Where enqueues made inside a transaction it cannot join are written, or null. */
  readonly outbox: Readonly<TaskOutboxOptions> | null;
  protected readonly options: Readonly<Record<string, unknown>>;
  private attachedHost?: TaskBackendHost;

  constructor(
    readonly alias: string,
    settings: TaskBackendSettings = {},
  ) {
    const queues = settings.queues ?? [DEFAULT_QUEUE_NAME];
    if (
      !Array.isArray(queues) ||
      queues.some((queue) => typeof queue !== 'string' || queue === '')
    ) {
      throw new InvalidTaskBackendError(
        TaskMessages.badQueueList(alias, settings.queues),
      );
    }
    this.queues = Object.freeze([...queues]);
    this.enqueueOnCommit = settings.enqueueOnCommit ?? true;
    this.outbox = settings.outbox
      ? Object.freeze({ ...settings.outbox })
      : null;
    this.options = Object.freeze({ ...(settings.options ?? {}) });
  }

  /** @internal Called by the module once the application is assembled. */
  attach(host: TaskBackendHost): void {
    this.attachedHost = host;
  }

  protected get host(): TaskBackendHost {
    if (!this.attachedHost) {
      throw new InvalidTaskBackendError(
        TaskMessages.backendNotAttached(this.alias),
      );
    }
    return this.attachedHost;
  }

  /** Throws `InvalidTaskError` when this backend cannot run the task as defined. */
  validateTask(task: TaskDefinition<any, any>): void {
    const fail = (message: string): never => {
      throw new InvalidTaskError(message);
    };
    const backendClass = this.constructor.name;
    if (typeof task.priority !== 'number' || !Number.isInteger(task.priority)) {
      fail(TaskMessages.badPriority(task.name, task.priority));
    }
    if (task.priority < MIN_PRIORITY || task.priority > MAX_PRIORITY) {
      fail(TaskMessages.badPriority(task.name, task.priority));
    }
    if (!this.supportsPriority && task.priority !== DEFAULT_PRIORITY) {
      fail(
        TaskMessages.priorityNotSupported(task.name, this.alias, backendClass),
      );
    }
    if (typeof task.queueName !== 'string' || task.queueName === '') {
      fail(TaskMessages.badQueueName(task.name, task.queueName));
    }
    if (this.queues.length > 0 && !this.queues.includes(task.queueName)) {
      fail(
        TaskMessages.queueNotAllowed(
          task.name,
          task.queueName,
          this.alias,
          this.queues,
        ),
      );
    }
    if (task.runAfter !== null) {
      if (
        !(task.runAfter instanceof Date) ||
        Number.isNaN(task.runAfter.getTime())
      ) {
        fail(TaskMessages.badRunAfter(task.name, task.runAfter));
      }
      if (!this.supportsDefer)
        fail(
          TaskMessages.deferNotSupported(task.name, this.alias, backendClass),
        );
    }
    if (!Number.isInteger(task.maxAttempts) || task.maxAttempts < 1) {
      fail(TaskMessages.badMaxAttempts(task.name, task.maxAttempts));
    }
    if (
      task.timeout !== null &&
      !(typeof task.timeout === 'number' && task.timeout > 0)
    ) {
      fail(TaskMessages.badTimeout(task.name, task.timeout));
    }
    const delay = task.retryDelay;
    if (
      delay !== null &&
      typeof delay !== 'function' &&
      !(typeof delay === 'number' && delay >= 0)
    ) {
      fail(TaskMessages.badRetryDelay(task.name, delay));
    }
    if (
      task.uniqueKey !== null &&
      (typeof task.uniqueKey !== 'string' || task.uniqueKey === '')
    ) {
      fail(TaskMessages.badUniqueKey(task.name, task.uniqueKey));
    }
    if (task.uniqueKey !== null) this.validateUniqueKey(task, task.uniqueKey);
    if (task.transactional === true && !this.supportsTransactional) {
      fail(
        TaskMessages.transactionalNotSupported(
          task.name,
          this.alias,
          backendClass,
        ),
      );
    }
    const problem = findJsonProblem(task.metadata, 'metadata');
    if (problem) fail(TaskMessages.badMetadata(task.name, problem));
  }

  /**
   * Throws `InvalidTaskError` when this backend cannot store a result with
   * this unique key: run on the key given to `using({ uniqueKey })` with
   * `validateTask`, and on each key `unique.key` returns at enqueue.
   */
  validateUniqueKey(_task: TaskDefinition<any, any>, _key: string): void {}

  /** DEP 14's system check: problems with this backend's configuration or storage. */
  async check(): Promise<TaskCheckMessage[]> {
    return [];
  }

  /**
   * Stores new READY results (validated, ids assigned) and returns them.
   * Called through `TaskDefinition.enqueue`/`enqueueMany`, never directly;
   * `task.transaction` is set when the rows may be written in that transaction.
   */
  abstract enqueue(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]>;

  /**
   * Whether enqueues may be written inside this TypeORM transaction (a
   * database backend on the same DataSource). Otherwise they are held until
   * it commits (written to the outbox, where the alias has one).
   */
  async writesIn(_manager: EntityManager): Promise<boolean> {
    return false;
  }

  /**
   * Stores READY results whose ids were allocated earlier — an outbox's
   * rows, once their transaction has committed — each at most once however
   * often it is relayed: a row whose result is stored already is left as
   * it is, and a relay that fails because another stored the same rows
   * meanwhile counts as done. Otherwise as `enqueue`, a batch per task and
   * queue: a unique task's row whose key a READY or RUNNING result holds
   * resolves to that result. Returns a result per row, in order.
   */
  async relay(rows: readonly TaskResultData[]): Promise<TaskResult<any>[]> {
    const stored = await this.storedIds(rows);
    const results = new Map<string, TaskResult<any>>();
    for (const batch of batchesByTask(
      rows.filter((row) => !stored.has(row.id)),
    )) {
      try {
        const added = await this.enqueueRelayed(
          this.host.resolveTask(batch[0]),
          batch,
        );
        added.forEach((result, index) => results.set(batch[index].id, result));
      } catch (error) {
        const now = await this.storedIds(batch).catch(() => new Set());
        if (!batch.every((row) => now.has(row.id))) throw error;
      }
    }
    return rows.map((row) => results.get(row.id) ?? this.toResult(row));
  }

  /** Stores a batch of relayed rows: as `enqueue`, unless the backend must write them otherwise. */
  protected enqueueRelayed(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    return this.enqueue(task, rows);
  }

  /** The ids of `rows` whose result this backend stores: what makes `relay` idempotent. Backends with `supportsRelay` implement it. */
  protected storedIds(_rows: readonly TaskResultData[]): Promise<Set<string>> {
    throw new InvalidTaskBackendError(
      TaskMessages.relayNotSupported(this.alias, this.constructor.name),
    );
  }

  /** The stored state of one result; `TaskResultDoesNotExistError` when unknown. */
  protected loadResult(_id: string): Promise<TaskResultData> {
    throw new InvalidTaskBackendError(
      TaskMessages.getResultNotSupported(this.alias, this.constructor.name),
    );
  }

  /** The result with this id; `TaskResultDoesNotExistError` when unknown. */
  async getResult<R = unknown>(id: string): Promise<TaskResult<R>> {
    return this.toResult<R>(await this.loadResult(id));
  }

  /**
   * Cancels a result (see `TaskQueue.cancel`): a READY one at once; a
   * RUNNING one, where the backend can, by a request its worker learns (see
   * `WorkerQueue`); a finished one is refused with `InvalidTaskError`.
   */
  async cancel(_id: string): Promise<TaskResult<unknown>> {
    throw new InvalidTaskBackendError(
      TaskMessages.cancelNotSupported(this.alias, this.constructor.name),
    );
  }

  /**
   * The queue workers consume (`tasks:work`, the in-process worker), or null
   * when this backend runs tasks some other way.
   */
  workerQueue(): WorkerQueue | null {
    return null;
  }

  /** What `tasks:status` and `tasks:prune` use, or null when this backend keeps no results to report on. */
  admin(): BackendAdmin | null {
    return null;
  }

  /** Releases connections; called on application shutdown. */
  async close(): Promise<void> {}

  /** Wraps stored state in a `TaskResult` bound to this backend (its task resolved in the registry). */
  toResult<R>(data: TaskResultData): TaskResult<R> {
    return new TaskResult<R>(this.host.resolveTask(data), data, (id) =>
      this.loadResult(id),
    );
  }
}

/** Rows grouped by task and queue, in the order each group first appears. */
function batchesByTask(rows: readonly TaskResultData[]): TaskResultData[][] {
  const batches = new Map<string, TaskResultData[]>();
  for (const row of rows) {
    const key = JSON.stringify([row.taskName, row.queueName]);
    const batch = batches.get(key);
    if (batch) batch.push(row);
    else batches.set(key, [row]);
  }
  return [...batches.values()];
}
