import { runInMemory } from '../../execution/run-in-memory.js';
import { newWorkerId } from '../../execution/worker-id.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskBackend } from '../backend.js';

/** Runs each task in this process during `enqueue` and returns the finished result. Keeps nothing. */
export class ImmediateBackend extends TaskBackend {
  override readonly supportsPriority = true;
  private readonly workerId = newWorkerId();

  async enqueue(
    _task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const results: TaskResult<any>[] = [];
    for (const data of rows) {
      const result = this.toResult(data);
      await this.host.emit('enqueued', result);
      await runInMemory(result, this.host, this.workerId);
      results.push(result);
    }
    return results;
  }
}
