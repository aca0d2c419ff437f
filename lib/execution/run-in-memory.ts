import type { TaskEventName } from '../events/task-event-name.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import type { TaskExecutor } from './task-executor.js';

/** What running a held result in this process needs. */
export interface InMemoryRunner {
  executor: TaskExecutor;
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
}

/**
 * Runs a result kept in memory until it succeeds or has used its attempts,
 * updating it in place (ImmediateBackend, and the testing helpers).
 * Retries follow at once: in-process runs do not sleep.
 */
export async function runInMemory(
  result: TaskResult<any>,
  runner: InMemoryRunner,
  workerId: string,
): Promise<void> {
  for (;;) {
    const before = result.snapshot;
    const now = new Date();
    const attempt = before.attempts + 1;
    result.update({
      ...before,
      status: TaskResultStatus.RUNNING,
      startedAt: before.startedAt ?? now,
      lastAttemptedAt: now,
      attempts: attempt,
      workerIds: [...before.workerIds, workerId],
    });
    await runner.emit('started', result);
    const outcome = await runner.executor.runAttempt(
      result,
      attempt,
      async () => {},
    );
    const after = result.snapshot;
    if (outcome.ok) {
      result.update({
        ...after,
        status: TaskResultStatus.SUCCESSFUL,
        finishedAt: new Date(),
        returnValue: outcome.returnValue,
      });
      break;
    }
    const errors = [...after.errors, outcome.error];
    if (attempt < after.maxAttempts) {
      result.update({ ...after, status: TaskResultStatus.READY, errors });
      continue;
    }
    result.update({
      ...after,
      status: TaskResultStatus.FAILED,
      finishedAt: new Date(),
      errors,
    });
    break;
  }
  await runner.emit('finished', result);
}
