import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  TaskTransactions,
  type TaskTransactionOptions,
} from './transactions/task-transactions.service.js';
import { InvalidTaskError } from './errors/invalid-task.error.js';
import { TaskBackends } from './dispatch/task-backends.js';
import type { TaskBackend } from './backends/backend.js';
import { TaskRegistry } from './discovery/task-registry.js';
import type { TaskDefinition } from './task/task-definition.js';
import type {
  TaskArgs,
  TaskClass,
  TaskMethodName,
  TaskReturn,
} from './task/task-method.types.js';
import type { TaskResult } from './task/task-result.js';
import { DEFAULT_BACKEND_ALIAS, TASK_METADATA } from './tasks.constants.js';
import { TaskMessages } from './tasks.messages.js';
import type { TaskMetadata } from './task/task-options.js';

/** The injectable entry point: find task definitions, enqueue them, look results up. */
@Injectable()
export class TaskQueue {
  constructor(
    private readonly registry: TaskRegistry,
    private readonly backends: TaskBackends,
    private readonly transactions: TaskTransactions,
  ) {}

  /** The definition of a `@Task()` method, typed from the method. */
  task<C, K extends TaskMethodName<C>>(
    taskClass: TaskClass<C>,
    method: K,
  ): TaskDefinition<TaskArgs<C, K>, TaskReturn<C, K>>;
  /** The definition registered under this name. */
  task<A extends unknown[] = unknown[], R = unknown>(
    name: string,
  ): TaskDefinition<A, R>;
  task(
    classOrName: TaskClass<unknown> | string,
    method?: string,
  ): TaskDefinition<any, any> {
    if (typeof classOrName === 'string')
      return this.registry.get(classOrName).definition;
    const site = `${classOrName?.name ?? String(classOrName)}.${String(method)}`;
    const fn: unknown =
      method === undefined
        ? undefined
        : (classOrName?.prototype as Record<string, unknown>)?.[method];
    const metadata: TaskMetadata | undefined =
      typeof fn === 'function'
        ? Reflect.getMetadata(TASK_METADATA, fn)
        : undefined;
    if (!metadata)
      throw new InvalidTaskError(TaskMessages.notATaskMethod(site));
    const registered = this.registry.findByMethod(fn as object);
    if (!registered)
      throw new InvalidTaskError(
        TaskMessages.taskProviderMissing(metadata.name, site),
      );
    return registered.definition;
  }

  /** Enqueues `taskClass.method(...args)` with the task's own options. */
  enqueue<C, K extends TaskMethodName<C>>(
    taskClass: TaskClass<C>,
    method: K,
    ...args: TaskArgs<C, K>
  ): Promise<TaskResult<TaskReturn<C, K>>> {
    return this.task(taskClass, method).enqueue(...args);
  }

  /** The result with this id on a backend; `TaskResultDoesNotExistError` when unknown. */
  getResult<R = unknown>(
    id: string,
    backendAlias: string = DEFAULT_BACKEND_ALIAS,
  ): Promise<TaskResult<R>> {
    return this.backends.get(backendAlias).getResult<R>(id);
  }

  /** The backend configured under this alias. */
  backend(alias: string = DEFAULT_BACKEND_ALIAS): TaskBackend {
    return this.backends.get(alias);
  }

  /**
   * Runs `work` in a TypeORM transaction. Enqueues made inside it, at any
   * depth of calls, join it: written in it by a DatabaseBackend on the same
   * DataSource, otherwise held until it commits and dropped if it rolls back.
   * Nested calls on the same DataSource open savepoints.
   */
  transaction<T>(
    work: (manager: EntityManager) => Promise<T>,
    options?: TaskTransactionOptions,
  ): Promise<T> {
    return this.transactions.run(work, options);
  }

  /**
   * Cancels a result: a READY one becomes CANCELLED at once and never runs;
   * a RUNNING one has its `ctx.signal` aborted (reason: a
   * `TaskCancelledError`) in whichever process runs it, and ends CANCELLED
   * when its attempt ends, never retried. A finished one is refused with
   * `InvalidTaskError`; an unknown id with `TaskResultDoesNotExistError`.
   * Resolves with the result as it is then (RUNNING, for a running one).
   */
  cancel(
    id: string,
    backendAlias: string = DEFAULT_BACKEND_ALIAS,
  ): Promise<TaskResult<unknown>> {
    return this.backends.get(backendAlias).cancel(id);
  }
}
