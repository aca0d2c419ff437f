import { InvalidTaskError } from '../errors/invalid-task.error.js';
import { TaskTimeoutError } from '../errors/task-timeout.error.js';
import { findJsonProblem } from '../task/json-value.js';
import { TaskContext, type ProgressSink } from '../task/task-context.js';
import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskMessages } from '../tasks.messages.js';
import { activeTaskTracing } from '../tracing/task-tracing.js';
import type { RegisteredTask, TaskLookup } from './registered-task.js';

/** The signal of an attempt nothing can abort. */
const NEVER_ABORTED = new AbortController().signal;

/** Where an attempt's abort signal comes from: read only when the attempt needs one. */
export interface AbortSource {
  readonly signal: AbortSignal;
}

/** How one attempt ended. */
export type AttemptOutcome =
  { ok: true; returnValue: unknown } | { ok: false; error: TaskErrorRecord };

/** Runs one attempt of a task: finds its method in the registry, builds the context, enforces the timeout. */
export class TaskExecutor {
  constructor(private readonly tasks: TaskLookup) {}

  /** Runs one attempt (in a span, when tracing is on); `abort` (a worker's shutdown) reaches the task as `TaskContext.signal`, as does its timeout. */
  runAttempt(
    result: TaskResult<unknown>,
    attempt: number,
    saveProgress: ProgressSink,
    abort?: AbortSource,
    /** The transaction of a `transactional` attempt. */
    manager: TaskContext['manager'] = null,
  ): Promise<AttemptOutcome> {
    const tracing = activeTaskTracing();
    if (tracing === null)
      return this.attempt(result, attempt, saveProgress, abort, manager);
    return tracing.attempt(result, attempt, () =>
      this.attempt(result, attempt, saveProgress, abort, manager),
    );
  }

  private async attempt(
    result: TaskResult<unknown>,
    attempt: number,
    saveProgress: ProgressSink,
    abort: AbortSource | undefined,
    manager: TaskContext['manager'],
  ): Promise<AttemptOutcome> {
    const registered = this.tasks.find(result.task.name);
    if (!registered) {
      return {
        ok: false,
        error: toErrorRecord(
          new InvalidTaskError(
            TaskMessages.taskNotRegistered(result.task.name),
          ),
        ),
      };
    }
    // A controller of its own only when a timeout may abort the attempt.
    const timeout = registered.definition.timeout;
    const stop = timeout === null ? null : new AbortController();
    const onAbort = () => stop?.abort(abort?.signal.reason);
    if (stop) abort?.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const context = registered.definition.takesContext
        ? new TaskContext(
            result,
            attempt,
            saveProgress,
            stop?.signal ?? abort?.signal ?? NEVER_ABORTED,
            manager,
          )
        : undefined;
      const value = await this.withTimeout(
        registered,
        this.invoke(registered, result.args, context),
        stop,
        // A transactional attempt's transaction ends only after its method has.
        manager !== null,
      );
      const returnValue = value === undefined ? null : value;
      const problem = findJsonProblem(returnValue, 'returnValue');
      if (problem)
        throw new TypeError(
          TaskMessages.returnValueNotJson(registered.name, problem),
        );
      return { ok: true, returnValue };
    } catch (error) {
      return { ok: false, error: toErrorRecord(error) };
    } finally {
      if (stop) abort?.signal.removeEventListener('abort', onAbort);
    }
  }

  /** Runs the method now, outside any backend (`TaskDefinition.call`). */
  async call(
    registered: RegisteredTask,
    args: unknown[],
    context: () => TaskContext,
  ): Promise<unknown> {
    return this.invoke(
      registered,
      args,
      registered.definition.takesContext ? context() : undefined,
    );
  }

  private async invoke(
    registered: RegisteredTask,
    args: unknown[],
    context: TaskContext | undefined,
  ): Promise<unknown> {
    const method = (
      registered.instance as Record<string, (...params: unknown[]) => unknown>
    )[registered.methodName];
    const params = registered.definition.takesContext
      ? [context, ...args]
      : args;
    return method.apply(registered.instance, params);
  }

  /** Fails the attempt after the task's timeout, aborting its signal. */
  private async withTimeout<T>(
    registered: RegisteredTask,
    work: Promise<T>,
    stop: AbortController | null,
    /** After a timeout, wait for the method to return before failing the attempt. */
    settle: boolean,
  ): Promise<T> {
    const ms = registered.definition.timeout;
    if (ms === null || stop === null) return work;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TaskTimeoutError(
          TaskMessages.timedOut(registered.name, ms),
        );
        stop.abort(error);
        reject(error);
      }, ms);
    });
    try {
      return await Promise.race([work, expired]);
    } catch (error) {
      if (settle && error instanceof TaskTimeoutError)
        await work.catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}
