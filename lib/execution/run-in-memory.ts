import type { TaskEventName } from '../task/task-event.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import {
  attemptCancelled,
  attemptFailed,
  attemptStarted,
  attemptSucceeded,
  type AttemptVerdict,
} from './attempt-policy.js';
import type { TaskExecutor } from './task-executor.js';

/** What running a held result in this process needs. */
export interface InMemoryRunner {
  executor: TaskExecutor;
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
}

/**
 * Runs the next attempt of a result kept in memory, updating it in place
 * (ImmediateBackend, and the testing helpers). Returns the verdict: a READY
 * result with `retryAt` is to be attempted again from then on. `cancel`,
 * aborted when the result is cancelled, is the attempt's signal: once it
 * has aborted, the attempt ends CANCELLED.
 */
export async function runAttemptInMemory(
  result: TaskResult<any>,
  runner: InMemoryRunner,
  workerId: string,
  cancel?: AbortSignal,
): Promise<AttemptVerdict> {
  result.update(attemptStarted(result.snapshot, workerId));
  await runner.emit('started', result);
  const outcome = await runner.executor.runAttempt(
    result,
    result.attempts,
    async () => {},
    cancel && { signal: cancel },
  );
  const ended = outcome.ok
    ? attemptSucceeded(result, outcome.returnValue)
    : attemptFailed(result, outcome.error);
  const verdict = cancel?.aborted ? attemptCancelled(ended) : ended;
  result.update(verdict.data);
  if (verdict.data.status !== TaskResultStatus.READY)
    await runner.emit('finished', result);
  return verdict;
}

/** Runs a result in memory until it succeeds or has used its attempts, waiting each retry delay. */
export async function runInMemory(
  result: TaskResult<any>,
  runner: InMemoryRunner,
  workerId: string,
): Promise<void> {
  for (;;) {
    const { retryAt } = await runAttemptInMemory(result, runner, workerId);
    if (!retryAt) return;
    const wait = retryAt.getTime() - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
