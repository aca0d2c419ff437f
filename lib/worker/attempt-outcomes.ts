import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { defaultRetryDelay } from './worker-options.js';
import type { AttemptRecord } from './worker-source.js';

/** What is written when an attempt succeeded. */
export function succeeded(
  result: TaskResult<any>,
  returnValue: unknown,
  workerId: string,
): AttemptRecord {
  const data = result.snapshot;
  return {
    data: {
      ...data,
      status: TaskResultStatus.SUCCESSFUL,
      finishedAt: new Date(),
      returnValue,
    },
    workerId,
    attempt: data.attempts,
    retryAt: null,
  };
}

/**
 * What is written when an attempt failed: re-queued after the retry delay
 * while attempts remain (unless `final`), else FAILED.
 */
export function failed(
  result: TaskResult<any>,
  error: TaskErrorRecord,
  workerId: string,
  final = false,
): AttemptRecord {
  const data = result.snapshot;
  const errors = [...data.errors, error];
  const attempt = data.attempts;
  const now = Date.now();
  if (!final && attempt < data.maxAttempts) {
    return {
      data: { ...data, status: TaskResultStatus.READY, errors },
      workerId,
      attempt,
      retryAt: new Date(now + retryDelay(result, attempt)),
    };
  }
  return {
    data: {
      ...data,
      status: TaskResultStatus.FAILED,
      finishedAt: new Date(now),
      errors,
    },
    workerId,
    attempt,
    retryAt: null,
  };
}

/** The task's delay before the next attempt; the default when its own is unusable. */
function retryDelay(result: TaskResult<any>, attempt: number): number {
  const delay = result.task.retryDelay;
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

const KEEP_CHARS = 2000;
const clip = (text: unknown) => {
  const value = String(text ?? '');
  return value.length > KEEP_CHARS
    ? `${value.slice(0, KEEP_CHARS)}… (clipped)`
    : value;
};

/**
 * A stand-in for an outcome the database refused (too large, invalid):
 * FAILED, without a return value, keeping only the last `keptErrors` errors
 * (clipped) and the refusal, so that it stays small enough to be written.
 */
export function unstorable(
  record: AttemptRecord,
  refusal: unknown,
  keptErrors: number,
): AttemptRecord {
  const reason = toErrorRecord(refusal);
  const kept = keptErrors > 0 ? record.data.errors.slice(-keptErrors) : [];
  const errors = [
    ...kept,
    {
      ...reason,
      message: `The outcome of attempt ${record.attempt} could not be stored: ${reason.message}`,
    },
  ].map((error) => ({
    errorClass: clip(error.errorClass),
    message: clip(error.message),
    traceback: clip(error.traceback),
  }));
  return {
    ...record,
    data: {
      ...record.data,
      status: TaskResultStatus.FAILED,
      finishedAt: new Date(),
      returnValue: null,
      errors,
    },
    retryAt: null,
  };
}
