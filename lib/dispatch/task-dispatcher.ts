import { Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { TaskBackend } from '../backends/backend.js';
import { InvalidTaskArgumentsError } from '../errors/invalid-task-arguments.error.js';
import { TaskBackends } from './task-backends.js';
import { findProvider } from './find-provider.js';
import { StoredTaskDefinitions } from './stored-task-definitions.js';
import { TaskOutbox } from './task-outbox.js';
import { TaskRegistry } from '../discovery/task-registry.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { TaskExecutor } from '../execution/task-executor.js';
import { findJsonProblem } from '../task/json-value.js';
import { TaskContext } from '../task/task-context.js';
import type { TaskDefinition } from '../task/task-definition.js';
import type { TaskPort } from '../task/task-port.js';
import { TaskResult } from '../task/task-result.js';
import {
  newResultData,
  type TaskResultData,
} from '../task/task-result-data.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { activeTaskTracing } from '../tracing/task-tracing.js';
import { TaskTransactions } from '../transactions/task-transactions.service.js';
import type { TransactionScope } from '../transactions/transaction-scope.js';
import { transactionScopeOf } from '../transactions/query-runner-scope.js';

/** Connects definitions to backends and the registry: validation, enqueue, lookup and direct calls. */
@Injectable()
export class TaskDispatcher implements TaskPort {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly storedDefinitions: StoredTaskDefinitions;

  constructor(
    private readonly backends: TaskBackends,
    private readonly registry: TaskRegistry,
    private readonly executor: TaskExecutor,
    private readonly events: TaskEventBus,
    private readonly transactions: TaskTransactions,
    private readonly outbox: TaskOutbox,
    private readonly moduleRef: ModuleRef,
  ) {
    this.storedDefinitions = new StoredTaskDefinitions(this, registry);
  }

  /** Builds the definitions of the collected tasks and validates each against its backend. */
  defineTasks(): void {
    this.registry.define(this);
    for (const task of this.registry.all()) this.validate(task.definition);
  }

  /** Hands every backend what it needs from the application. */
  attachBackends(): void {
    this.backends.attach({
      resolveTask: (data) => this.storedDefinitions.resolve(data),
      resolveProvider: (token) => findProvider(this.moduleRef, token),
      executor: this.executor,
      emit: (event, result) => this.events.emit(event, result),
      afterCommit: (manager, callback) => {
        const scope = transactionScopeOf(manager);
        scope?.onCommit(callback);
        return scope !== null;
      },
    });
  }

  validate(task: TaskDefinition<any, any>): void {
    this.backends.get(task.backend, task.name).validateTask(task);
  }

  async enqueue(
    task: TaskDefinition<any, any>,
    argsList: unknown[][],
  ): Promise<TaskResult<any>[]> {
    this.registry.get(task.name);
    const backend = this.backends.get(task.backend, task.name);
    backend.validateTask(task);
    const rows = argsList.map((args, index) => {
      if (!Array.isArray(args)) {
        throw new InvalidTaskArgumentsError(
          TaskMessages.argumentsNotArray(task.name, index, args),
        );
      }
      const problem = findJsonProblem(args, 'args');
      if (problem)
        throw new InvalidTaskArgumentsError(
          TaskMessages.invalidArguments(task.name, problem),
        );
      const stored = JSON.parse(JSON.stringify(args)) as unknown[];
      const uniqueKey = task.uniqueKeyFor(stored, index);
      if (uniqueKey !== null) backend.validateUniqueKey(task, uniqueKey);
      return newResultData(task, stored, uniqueKey);
    });
    const tracing = activeTaskTracing();
    if (tracing === null) return this.store(task, backend, rows);
    return tracing.enqueue(task, rows, () => this.store(task, backend, rows));
  }

  /**
   * Stores `rows` now, in the caller's transaction (or in the outbox there),
   * or once the scopes it waits for have committed.
   */
  private async store(
    task: TaskDefinition<any, any>,
    backend: TaskBackend,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const scopes = this.transactions.scopesFor(task);
    const [transaction] = scopes;
    const joined = transaction?.manager;
    if (joined && (await backend.writesIn(joined))) {
      return backend.enqueue(task.with({ transaction: joined }), rows);
    }
    if (joined && (await this.outbox.covers(backend, joined))) {
      return this.outbox.enqueue(backend, transaction, joined, task.name, rows);
    }
    const detached =
      task.transaction === null ? task : task.with({ transaction: null });
    // enqueueOnCommit: false opts out of waiting for transactions, not for the HTTP request.
    const waitFor = backend.enqueueOnCommit
      ? scopes
      : scopes.filter((scope) => scope.manager === null);
    if (waitFor.length === 0) return backend.enqueue(detached, rows);
    const held = rows.map((row) => backend.toResult(row));
    await this.hold(waitFor, async () => {
      try {
        const stored = await backend.enqueue(detached, rows);
        stored.forEach((result, index) => held[index].update(result.snapshot));
      } catch (error) {
        this.logger.error(
          TaskMessages.dispatchFailed(task.name, rows.length),
          (error as Error)?.stack,
        );
        for (const result of held)
          await this.events.emit('dispatchFailed', result, error);
      }
    });
    return held;
  }

  /** Holds `dispatch` until every scope (innermost first) has committed; drops it when one rolls back. */
  private async hold(
    scopes: TransactionScope[],
    dispatch: () => Promise<void>,
  ): Promise<void> {
    const [inner, ...outer] = scopes.filter((scope) => scope.isActive());
    if (!inner) return dispatch();
    inner.onCommit(() => this.hold(outer, dispatch));
  }

  getResult(backend: string, id: string): Promise<TaskResult<any>> {
    return this.backends.get(backend).getResult(id);
  }

  async call(
    task: TaskDefinition<any, any>,
    args: unknown[],
  ): Promise<unknown> {
    const registered = this.registry.get(task.name);
    return this.executor.call(registered, args, () => {
      const data = {
        ...newResultData(task, args, null),
        status: TaskResultStatus.RUNNING,
        attempts: 1,
      };
      const detached: TaskResult<unknown> = new TaskResult(
        task,
        data,
        async () => detached.snapshot,
      );
      return new TaskContext(detached, 1, async () => {});
    });
  }

  /** The definition a stored result was enqueued with; a bare one when its task is not registered here. */
}
