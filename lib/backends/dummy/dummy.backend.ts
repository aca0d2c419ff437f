import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskCancelledError } from '../../errors/task-cancelled.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import { type TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import { TaskBackend } from '../backend.js';

/**
 * Stores results in memory and runs nothing. For tests: inspect `results`,
 * reset with `clear()`. A result is RUNNING only while `TaskQueueTester`
 * runs it; cancelling it then aborts its attempt's signal.
 */
export class DummyBackend extends TaskBackend {
  override readonly supportsDefer = true;
  override readonly supportsPriority = true;
  override readonly supportsGetResult = true;
  /** It stores transactional tasks like any other (TaskQueueTester runs them with `ctx.manager` null). */
  override readonly supportsTransactional = true;
  /** Every result enqueued since the last `clear()`, in enqueue order. */
  readonly results: TaskResult<any>[] = [];
  /** What cancelling a result aborts, by id. */
  private readonly cancels = new Map<string, AbortController>();

  async enqueue(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const results: TaskResult<any>[] = [];
    for (const data of rows) {
      const pending =
        data.uniqueKey === null
          ? undefined
          : this.findPending(task.name, data.uniqueKey);
      if (pending) {
        results.push(pending);
        continue;
      }
      const result = this.toResult(data);
      this.results.push(result);
      await this.host.emit('enqueued', result);
      results.push(result);
    }
    return results;
  }

  clear(): void {
    this.results.length = 0;
    this.cancels.clear();
  }

  /** @internal The signal cancelling this result aborts: its attempts' signal when `TaskQueueTester` runs it. */
  cancelSignal(id: string): AbortSignal {
    return this.cancelOf(id).signal;
  }

  private cancelOf(id: string): AbortController {
    let cancel = this.cancels.get(id);
    if (!cancel) {
      cancel = new AbortController();
      this.cancels.set(id, cancel);
    }
    return cancel;
  }

  override async cancel(id: string): Promise<TaskResult<unknown>> {
    const result = this.find(id);
    if (result.status === TaskResultStatus.RUNNING) {
      this.cancelOf(id).abort(
        new TaskCancelledError(
          TaskMessages.taskCancelled(id, result.task.name),
        ),
      );
      return this.toResult(result.snapshot);
    }
    if (result.status !== TaskResultStatus.READY) {
      throw new InvalidTaskError(TaskMessages.cannotCancel(id, result.status));
    }
    result.update({
      ...result.snapshot,
      status: TaskResultStatus.CANCELLED,
      finishedAt: new Date(),
    });
    return this.toResult(result.snapshot);
  }

  protected override async loadResult(id: string): Promise<TaskResultData> {
    return this.find(id).snapshot;
  }

  private find(id: string): TaskResult<any> {
    const result = this.results.find((candidate) => candidate.id === id);
    if (!result)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    return result;
  }

  private findPending(
    taskName: string,
    uniqueKey: string,
  ): TaskResult<any> | undefined {
    return this.results.find(
      (result) =>
        result.task.name === taskName &&
        result.snapshot.uniqueKey === uniqueKey &&
        (result.status === TaskResultStatus.READY ||
          result.status === TaskResultStatus.RUNNING),
    );
  }
}
