import {
  attemptFailed,
  attemptInterrupted,
  attemptStarted,
  attemptSucceeded,
  defaultRetryDelay,
  retryDelayFor,
} from '../../lib/execution/attempt-policy.js';
import {
  TaskResultStatus,
  type TaskErrorRecord,
  type TaskResult,
  type TaskResultData,
} from '../../lib/index.js';

const NOW = new Date('2026-01-01T00:00:00.000Z');
const ERROR: TaskErrorRecord = {
  errorClass: 'Error',
  message: 'boom',
  traceback: 'Error: boom',
};

/** A RUNNING result in its `attempts`-th attempt of `maxAttempts`, with the task's retry delay. */
function running(
  attempts: number,
  maxAttempts: number,
  retryDelay: number | ((attempt: number) => number) | null = null,
): TaskResult<any> {
  const data = {
    id: 'r1',
    taskName: 'Reports.build',
    status: TaskResultStatus.RUNNING,
    attempts,
    maxAttempts,
    errors: [],
    workerIds: ['w1'],
    startedAt: NOW,
    finishedAt: null,
  } as unknown as TaskResultData;
  return { snapshot: data, task: { retryDelay } } as unknown as TaskResult<any>;
}

describe('the attempt policy', () => {
  it('starts an attempt: RUNNING, one more attempt, the worker recorded, the first start kept', () => {
    const later = new Date(NOW.getTime() + 5000);
    const data = attemptStarted(running(1, 3).snapshot, 'w2', later);
    expect(data).toEqual(
      expect.objectContaining({
        status: TaskResultStatus.RUNNING,
        attempts: 2,
        workerIds: ['w1', 'w2'],
        startedAt: NOW,
        lastAttemptedAt: later,
      }),
    );
  });

  it('records a success with its return value and finish time', () => {
    const { data, retryAt } = attemptSucceeded(running(1, 1), { ok: 1 }, NOW);
    expect(data.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(data.returnValue).toEqual({ ok: 1 });
    expect(data.finishedAt).toEqual(NOW);
    expect(retryAt).toBeNull();
  });

  it('re-queues a failure while attempts remain, due after the task retry delay', () => {
    const { data, retryAt } = attemptFailed(running(1, 3, 2500), ERROR, {
      now: NOW,
    });
    expect(data.status).toBe(TaskResultStatus.READY);
    expect(data.errors).toEqual([ERROR]);
    expect(data.finishedAt).toBeNull();
    expect(retryAt).toEqual(new Date(NOW.getTime() + 2500));
  });

  it('passes the failed attempt to a retryDelay function', () => {
    const seen: number[] = [];
    const delay = (attempt: number) => {
      seen.push(attempt);
      return attempt * 100;
    };
    const { retryAt } = attemptFailed(running(2, 3, delay), ERROR, {
      now: NOW,
    });
    expect(seen).toEqual([2]);
    expect(retryAt).toEqual(new Date(NOW.getTime() + 200));
  });

  it('fails for good on the last attempt, or when the failure is final', () => {
    const last = attemptFailed(running(3, 3, 0), ERROR, { now: NOW });
    expect(last.data.status).toBe(TaskResultStatus.FAILED);
    expect(last.data.finishedAt).toEqual(NOW);
    expect(last.retryAt).toBeNull();

    const final = attemptFailed(running(1, 3, 0), ERROR, {
      final: true,
      now: NOW,
    });
    expect(final.data.status).toBe(TaskResultStatus.FAILED);
  });

  it('treats an interrupted attempt as a failure with TaskInterruptedError, retried after the delay', () => {
    const { data, retryAt } = attemptInterrupted(
      running(1, 2, 700),
      'Worker w1 stopped heartbeating',
      NOW,
    );
    expect(data.status).toBe(TaskResultStatus.READY);
    expect(data.errors).toEqual([
      expect.objectContaining({
        errorClass: 'TaskInterruptedError',
        message: 'Worker w1 stopped heartbeating',
      }),
    ]);
    expect(retryAt).toEqual(new Date(NOW.getTime() + 700));
  });

  it('falls back to the exponential default when the retry delay is missing or unusable', () => {
    expect(defaultRetryDelay(1)).toBe(1000);
    expect(defaultRetryDelay(3)).toBe(4000);
    expect(defaultRetryDelay(40)).toBe(3_600_000);
    expect(retryDelayFor(null, 2)).toBe(2000);
    expect(retryDelayFor(-5, 1)).toBe(1000);
    expect(retryDelayFor(() => NaN, 1)).toBe(1000);
    expect(
      retryDelayFor(() => {
        throw new Error('bad');
      }, 1),
    ).toBe(1000);
    expect(retryDelayFor(0, 4)).toBe(0);
  });
});
