import type { EntityManager } from 'typeorm';
import type { TaskExecutor } from '../execution/task-executor.js';
import type { TaskDefinition } from '../task/task-definition.js';
import type { TaskEventName } from '../task/task-event.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';

/** What the module hands every backend once the application is assembled. */
export interface TaskBackendHost {
  /** The definition a stored result was enqueued with (registered or not). */
  resolveTask(data: TaskResultData): TaskDefinition<any, any>;
  /** Runs attempts of tasks in this process. */
  executor: TaskExecutor;
  /** A provider of the application (any module), or undefined when there is none. */
  resolveProvider<T = unknown>(token: unknown): T | undefined;
  /** Delivers `@OnTaskEvent()` listeners. */
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
  /**
   * Runs `callback` once the transaction `manager` runs in has committed
   * (its outermost COMMIT); false when it runs in no transaction.
   */
  afterCommit(manager: EntityManager, callback: () => Promise<void>): boolean;
}
