import type { EntityManager } from 'typeorm';
import { InvalidTaskArgumentsError } from '../errors/invalid-task-arguments.error.js';
import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskResultMismatchError } from '../errors/task-result-mismatch.error.js';
import {
  DEFAULT_BACKEND_ALIAS,
  DEFAULT_PRIORITY,
  DEFAULT_QUEUE_NAME,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskOptions } from './task-options.js';
import type { TaskResult } from './task-result.js';
import type { TaskPort } from './task-port.js';

/** A delay between attempts: fixed milliseconds, or a function of the attempt that failed. */
export type RetryDelay = number | ((attempt: number) => number);

/** Everything a definition holds. */
export interface TaskDefinitionState {
  name: string;
  priority: number;
  queueName: string;
  backend: string;
  runAfter: Date | null;
  takesContext: boolean;
  maxAttempts: number;
  retryDelay: RetryDelay | null;
  timeout: number | null;
  transactional: boolean;
  uniqueKeyOf: ((...args: any[]) => string) | null;
  uniqueKey: string | null;
  metadata: Record<string, unknown>;
  transaction: EntityManager | null;
}

/** The state of a task with nothing but a name given. */
export function defaultTaskState(name: string): TaskDefinitionState {
  return {
    name,
    priority: DEFAULT_PRIORITY,
    queueName: DEFAULT_QUEUE_NAME,
    backend: DEFAULT_BACKEND_ALIAS,
    runAfter: null,
    takesContext: false,
    maxAttempts: 1,
    retryDelay: null,
    timeout: null,
    transactional: false,
    uniqueKeyOf: null,
    uniqueKey: null,
    metadata: {},
    transaction: null,
  };
}

/** The state of a task declared with `@Task(options)` under `name`. */
export function taskStateFromOptions(
  name: string,
  options: TaskOptions,
): TaskDefinitionState {
  const defaults = defaultTaskState(name);
  return {
    ...defaults,
    priority: options.priority ?? defaults.priority,
    queueName: options.queueName ?? defaults.queueName,
    backend: options.backend ?? defaults.backend,
    takesContext: options.takesContext ?? defaults.takesContext,
    maxAttempts: options.maxAttempts ?? defaults.maxAttempts,
    retryDelay: options.retryDelay ?? defaults.retryDelay,
    timeout: options.timeout ?? defaults.timeout,
    transactional: options.transactional ?? defaults.transactional,
    uniqueKeyOf: options.unique?.key ?? defaults.uniqueKeyOf,
  };
}

/** What `TaskDefinition.using()` may change. */
export interface TaskUsingOptions {
  priority?: number;
  queueName?: string;
  backend?: string;
  runAfter?: Date | null;
  /** An `EntityManager` whose transaction the enqueue joins. */
  transaction?: EntityManager | null;
  /** Stored with the result and readable through `TaskResult.metadata`. */
  metadata?: Record<string, unknown>;
  /** Overrides the `unique.key` of the task for this enqueue. */
  uniqueKey?: string | null;
}

const USING_KEYS: readonly (keyof TaskUsingOptions)[] = [
  'priority',
  'queueName',
  'backend',
  'runAfter',
  'transaction',
  'metadata',
  'uniqueKey',
];

/**
 * An immutable description of how to enqueue one `@Task()` method. Obtain one
 * from `TaskQueue.task()`; derive variants with `using()`.
 */
export class TaskDefinition<A extends unknown[] = unknown[], R = unknown> {
  readonly name: string;
  readonly priority: number;
  readonly queueName: string;
  readonly backend: string;
  readonly takesContext: boolean;
  readonly maxAttempts: number;
  readonly retryDelay: RetryDelay | null;
  readonly timeout: number | null;
  /** Each attempt runs in a transaction of the backend, its success recorded in it (DatabaseBackend). */
  readonly transactional: boolean;
  readonly uniqueKey: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly transaction: EntityManager | null;
  private readonly uniqueKeyOf: ((...args: any[]) => string) | null;
  /** Epoch ms of a Date; anything else as given, for validation to report. */
  private readonly runAfterValue: unknown;

  /** @internal Definitions come from `TaskQueue.task()`. */
  constructor(
    private readonly port: TaskPort,
    state: TaskDefinitionState,
  ) {
    this.name = state.name;
    this.priority = state.priority;
    this.queueName = state.queueName;
    this.backend = state.backend;
    this.runAfterValue =
      state.runAfter instanceof Date
        ? state.runAfter.getTime()
        : (state.runAfter ?? null);
    this.takesContext = state.takesContext;
    this.maxAttempts = state.maxAttempts;
    this.retryDelay = state.retryDelay;
    this.timeout = state.timeout;
    this.transactional = state.transactional;
    this.uniqueKeyOf = state.uniqueKeyOf;
    this.uniqueKey = state.uniqueKey;
    this.metadata = Object.freeze({ ...state.metadata });
    this.transaction = state.transaction;
    Object.freeze(this);
  }

  /** When the task may run at the earliest; null for as soon as possible. A copy: changing it changes nothing. */
  get runAfter(): Date | null {
    const value = this.runAfterValue;
    return typeof value === 'number' ? new Date(value) : (value as Date | null);
  }

  /** @internal The full state, for deriving copies. */
  get state(): TaskDefinitionState {
    return {
      name: this.name,
      priority: this.priority,
      queueName: this.queueName,
      backend: this.backend,
      runAfter: this.runAfter,
      takesContext: this.takesContext,
      maxAttempts: this.maxAttempts,
      retryDelay: this.retryDelay,
      timeout: this.timeout,
      transactional: this.transactional,
      uniqueKeyOf: this.uniqueKeyOf,
      uniqueKey: this.uniqueKey,
      metadata: { ...this.metadata },
      transaction: this.transaction,
    };
  }

  /** A new definition with some options changed; this one is unchanged. Validated at once. */
  using(options: TaskUsingOptions): TaskDefinition<A, R> {
    const unknown = Object.keys(options ?? {}).filter(
      (key) => !USING_KEYS.includes(key as keyof TaskUsingOptions),
    );
    if (unknown.length)
      throw new InvalidTaskError(
        TaskMessages.unknownUsingOptions(this.name, unknown, USING_KEYS),
      );
    const next = this.with(options);
    this.port.validate(next);
    return next;
  }

  /** @internal A copy with options changed, without validation (used for stored results). */
  with(options: TaskUsingOptions): TaskDefinition<A, R> {
    const state = this.state;
    const defined = Object.fromEntries(
      Object.entries(options).filter(([, value]) => value !== undefined),
    );
    return new TaskDefinition<A, R>(this.port, { ...state, ...defined });
  }

  /**
   * @internal The unique key for the argument list `index` of an enqueue,
   * if the task is unique; `InvalidTaskArgumentsError` when `unique.key`
   * throws or returns anything but a non-empty string.
   */
  uniqueKeyFor(args: unknown[], index: number): string | null {
    if (this.uniqueKey !== null) return this.uniqueKey;
    if (!this.uniqueKeyOf) return null;
    let key: unknown;
    try {
      key = this.uniqueKeyOf(...args);
    } catch (error) {
      throw new InvalidTaskArgumentsError(
        TaskMessages.uniqueKeyThrew(this.name, index, error),
        { cause: error },
      );
    }
    if (typeof key !== 'string' || key === '')
      throw new InvalidTaskArgumentsError(
        TaskMessages.badUniqueKeyResult(this.name, index, key),
      );
    return key;
  }

  /** Enqueues one run of the task with these arguments. */
  async enqueue(...args: A): Promise<TaskResult<R>> {
    const [result] = await this.port.enqueue(this, [args]);
    return result as TaskResult<R>;
  }

  /** Enqueues one run per argument list, in one round trip where the backend can. */
  async enqueueMany(argsList: A[]): Promise<TaskResult<R>[]> {
    if (!Array.isArray(argsList)) {
      throw new TypeError(TaskMessages.enqueueManyNeedsArray(this.name));
    }
    if (argsList.length === 0) return [];
    return (await this.port.enqueue(this, argsList)) as TaskResult<R>[];
  }

  /** The result with this id, which must belong to this task. */
  async getResult(id: string): Promise<TaskResult<R>> {
    const result = await this.port.getResult(this.backend, id);
    if (result.task.name !== this.name) {
      throw new TaskResultMismatchError(
        TaskMessages.resultMismatch(id, result.task.name, this.name),
      );
    }
    return result as TaskResult<R>;
  }

  /** Runs the method now, in this process, without any backend. */
  async call(...args: A): Promise<R> {
    return (await this.port.call(this, args)) as R;
  }
}
