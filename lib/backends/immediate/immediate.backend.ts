import { runInMemory } from '../../execution/run-in-memory.js';
import { newWorkerId } from '../../execution/worker-id.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import { newResultData } from '../../task/task-result-data.js';
import { TaskBackend } from '../backend.js';

/** Runs each task in this process during `enqueue` and returns the finished result. Keeps nothing. */
export class ImmediateBackend extends TaskBackend {
  override readonly supportsPriority = true;
  private readonly workerId = newWorkerId();

  async enqueue(
    task: TaskDefinition<any, any>,
    argsList: unknown[][],
  ): Promise<TaskResult<any>[]> {
    const results: TaskResult<any>[] = [];
    for (const args of argsList) {
      const result = this.toResult(newResultData(task, args));
      await this.host.emit('enqueued', result);
      await runInMemory(result, this.host, this.workerId);
      results.push(result);
    }
    return results;
  }
}
