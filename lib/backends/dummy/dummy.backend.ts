import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import { type TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import { TaskBackend } from '../backend.js';

/** Stores results in memory and runs nothing. For tests: inspect `results`, reset with `clear()`. */
export class DummyBackend extends TaskBackend {
  override readonly supportsDefer = true;
  override readonly supportsPriority = true;
  override readonly supportsGetResult = true;
  /** It stores transactional tasks like any other (TaskQueueTester runs them with `ctx.manager` null). */
  override readonly supportsTransactional = true;
  /** Every result enqueued since the last `clear()`, in enqueue order. */
  readonly results: TaskResult<any>[] = [];

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
  }

  override async cancel(id: string): Promise<TaskResult<unknown>> {
    const result = this.find(id);
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
