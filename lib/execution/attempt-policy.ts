import { TaskInterruptedError } from '../errors/task-interrupted.error.js';
import type { RetryDelay } from '../task/task-definition.js';
import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';
import { TaskResultStatus } from '../task/task-result-status.js';

/**
 * The one attempt policy: what a result becomes when an attempt starts,
 * succeeds, fails or is interrupted, and when a retried task may run again.
 * Every path (in-memory runs, workers, rescues of dead workers' tasks)
 * decides through these functions.
 */

/** The state after an attempt ended, and when a retried (READY) result may run again. */
export interface AttemptVerdict {
  data: TaskResultData;
  /** Set for a retry: the earliest time of the next attempt. */
  retryAt: Date | null;
}

/** The delay before attempt `attempt + 1` when a task sets no `retryDelay`: exponential, capped at an hour. */
export function defaultRetryDelay(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 3_600_000);
}

/** The task's delay after failed attempt `attempt`; the default when its own is missing or unusable. */
export function retryDelayFor(
  delay: RetryDelay | null,
  attempt: number,
): number {
  let ms: unknown = delay;
  if (typeof delay === 'function') {
    try {
      ms = delay(attempt);
    } catch {
      ms = undefined;
    }
  }
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0
    ? ms
    : defaultRetryDelay(attempt);
}

/** A result taken by `workerId` for its next attempt. */
export function attemptStarted(
  data: TaskResultData,
  workerId: string,
  now = new Date(),
): TaskResultData {
  return {
    ...data,
    status: TaskResultStatus.RUNNING,
    startedAt: data.startedAt ?? now,
    lastAttemptedAt: now,
    attempts: data.attempts + 1,
    workerIds: [...data.workerIds, workerId],
  };
}

/** The attempt returned `returnValue`. */
export function attemptSucceeded(
  result: TaskResult<any>,
  returnValue: unknown,
  now = new Date(),
): AttemptVerdict {
  return {
    data: {
      ...result.snapshot,
      status: TaskResultStatus.SUCCESSFUL,
      finishedAt: now,
      returnValue,
    },
    retryAt: null,
  };
}

/**
 * The attempt failed with `error`: READY again after the task's retry delay
 * while attempts remain (unless `final`), else FAILED.
 */
export function attemptFailed(
  result: TaskResult<any>,
  error: TaskErrorRecord,
  { final = false, now = new Date() }: { final?: boolean; now?: Date } = {},
): AttemptVerdict {
  const data = result.snapshot;
  const errors = [...data.errors, error];
  if (!final && data.attempts < data.maxAttempts) {
    const delay = retryDelayFor(result.task.retryDelay, data.attempts);
    return {
      data: { ...data, status: TaskResultStatus.READY, errors },
      retryAt: new Date(now.getTime() + delay),
    };
  }
  return {
    data: { ...data, status: TaskResultStatus.FAILED, finishedAt: now, errors },
    retryAt: null,
  };
}

/**
 * The attempt's worker stopped (shut down, or went silent and lost its
 * lease) before it ended: a failure like any other, retried after the
 * retry delay while attempts remain.
 */
export function attemptInterrupted(
  result: TaskResult<any>,
  reason: string,
  now = new Date(),
): AttemptVerdict {
  return attemptFailed(
    result,
    toErrorRecord(new TaskInterruptedError(reason)),
    { now },
  );
}

/**
 * The result's cancel was requested while the attempt ran: whatever the
 * attempt did, the result is CANCELLED and never retried. The errors of the
 * attempt's verdict are kept (an attempt that threw, the cancellation
 * included, is listed); a value it returned is not.
 */
export function attemptCancelled(
  verdict: AttemptVerdict,
  now = new Date(),
): AttemptVerdict {
  return {
    data: {
      ...verdict.data,
      status: TaskResultStatus.CANCELLED,
      finishedAt: verdict.data.finishedAt ?? now,
      returnValue: null,
    },
    retryAt: null,
  };
}
