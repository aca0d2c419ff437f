/** Options of the `@Task()` decorator. */
export interface TaskOptions {
  /** Registry name stored with each result; defaults to `Class.method`. Keep it stable across deploys. */
  name?: string;
  /** Integer in [-100, 100]; higher runs first. Default 0. */
  priority?: number;
  /** Queue the task is enqueued on. Default `'default'`. */
  queueName?: string;
  /** Backend alias. Default `'default'`. */
  backend?: string;
  /** The method's first parameter receives a `TaskContext`. */
  takesContext?: boolean;
  /** Attempts before a failure is final. Default 1. */
  maxAttempts?: number;
  /** Milliseconds, or a function of the (1-based) attempt that failed, to wait before the next attempt. */
  retryDelay?: number | ((attempt: number) => number);
  /** Milliseconds after which an attempt fails with `TaskTimeoutError`. */
  timeout?: number;
  /** While a result with the same task and key is READY or RUNNING, enqueue returns it instead of a new one. */
  unique?: { key: (...args: any[]) => string };
  /**
   * Each attempt runs in a transaction on the backend's DataSource
   * (`ctx.manager`), and its success is recorded in that same transaction,
   * fenced by the lease: the task's database writes commit exactly once.
   * DatabaseBackend only.
   */
  transactional?: boolean;
  /** A cron expression, optionally with a time zone, at whose ticks running workers enqueue the task. */
  schedule?: string | { cron: string; timeZone?: string };
}

/** Options as `@Task()` stores them on the method, with the default name filled in. */
export interface TaskMetadata extends TaskOptions {
  name: string;
  /** `Class.method` where the decorator was applied, for messages. */
  site: string;
}

/** Every option `@Task()` takes. */
export const TASK_OPTION_KEYS: readonly (keyof TaskOptions)[] = [
  'name',
  'priority',
  'queueName',
  'backend',
  'takesContext',
  'maxAttempts',
  'retryDelay',
  'timeout',
  'unique',
  'schedule',
  'transactional',
];
