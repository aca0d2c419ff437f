import { runInMemory } from '../../execution/run-in-memory.js';
import { newWorkerId } from '../../execution/worker-id.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskBackend } from '../backend.js';

/**
 * Runs each task in this process during `enqueue` and returns the finished
 * result. Keeps nothing but the unique tasks running now: an enqueue with
 * the key of one returns that running result instead of running it again.
 */
export class ImmediateBackend extends TaskBackend {
  override readonly supportsPriority = true;
  private readonly workerId = newWorkerId();
  /** The results of unique tasks running now, by task and key. */
  private readonly running = new Map<string, TaskResult<any>>();

  async enqueue(
    _task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const results: TaskResult<any>[] = [];
    for (const data of rows) {
      const key =
        data.uniqueKey === null
          ? null
          : JSON.stringify([data.taskName, data.uniqueKey]);
      const running = key === null ? undefined : this.running.get(key);
      if (running) {
        results.push(running);
        continue;
      }
      const result = this.toResult(data);
      if (key !== null) this.running.set(key, result);
      try {
        await this.host.emit('enqueued', result);
        await runInMemory(result, this.host, this.workerId);
      } finally {
        if (key !== null) this.running.delete(key);
      }
      results.push(result);
    }
    return results;
  }
}
