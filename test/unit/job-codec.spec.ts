import {
  attemptMarkHead,
  countedAttemptOf,
  decodeJob,
  encodeTask,
  type JobFields,
  readAttemptMark,
  withReadableData,
} from '../../lib/backends/bullmq/job-codec.js';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';
import { readyResult } from '../support/result-data.js';

const ENQUEUED = 1_700_000_000_000;
const FIRST_TRY = ENQUEUED + 1_000;
const TAKEN = ENQUEUED + 5_000;
const FINISHED = ENQUEUED + 6_000;

/** A task's result as its enqueue stored it, READY; `changes` applied. */
function stored(changes: Partial<TaskResultData> = {}): TaskResultData {
  return readyResult({
    id: 'j1',
    taskName: 'send',
    backend: 'redis',
    args: ['a', 1],
    enqueuedAt: new Date(ENQUEUED),
    maxAttempts: 3,
    ...changes,
  });
}

/** An attempt's mark as a take writes it: BullMQ had counted `ended` ended attempts. */
function attemptMark(
  at: number,
  workerId: string,
  token = `${workerId}:t`,
  ended = 0,
): string {
  return `${attemptMarkHead(at, workerId, token)},${ended}]`;
}

/** The job of `data` (counting the attempt of `counted`), marked with `mark` ('' for no mark). */
function job(
  data: TaskResultData,
  mark: string,
  extra: Partial<JobFields> = {},
  counted: string | null = null,
): JobFields {
  return {
    id: data.id,
    data: encodeTask(data, ENQUEUED, counted),
    returnvalue: null,
    timestamp: ENQUEUED,
    attemptMark: mark,
    ...extra,
  };
}

describe('job codec: attempt marks', () => {
  it('reads a marked job BullMQ holds active as its attempt started, at the mark and by its worker', () => {
    const { data, problem } = decodeJob(
      job(stored(), attemptMark(TAKEN, 'w1')),
      'active',
    );
    expect(problem).toBeNull();
    expect(data).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 1,
      workerIds: ['w1'],
      startedAt: new Date(TAKEN),
      lastAttemptedAt: new Date(TAKEN),
    });
  });

  it('keeps the first start and earlier workers of a retried task', () => {
    const retried = stored({
      attempts: 1,
      workerIds: ['w0'],
      startedAt: new Date(FIRST_TRY),
      lastAttemptedAt: new Date(FIRST_TRY),
      errors: [{ errorClass: 'Error', message: 'boom', traceback: '' }],
    });
    const { data } = decodeJob(
      job(retried, attemptMark(TAKEN, 'w1')),
      'active',
    );
    expect(data).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 2,
      workerIds: ['w0', 'w1'],
      startedAt: new Date(FIRST_TRY),
      lastAttemptedAt: new Date(TAKEN),
    });
    expect(data.errors).toHaveLength(1);
  });

  it('reads as counted the mark of the attempt the data counts, whatever the clocks', () => {
    const counted = stored({
      attempts: 1,
      workerIds: ['w1'],
      startedAt: new Date(TAKEN),
      // Written by a worker whose clock is behind the taker's, or ahead of it.
      lastAttemptedAt: new Date(TAKEN - 10_000),
    });
    for (const at of [TAKEN, TAKEN - 20_000])
      expect(
        decodeJob(
          job(counted, attemptMark(at, 'w1', 'w1:t'), {}, 'w1:t'),
          'waiting',
        ).data,
      ).toMatchObject({
        status: TaskResultStatus.READY,
        attempts: 1,
        workerIds: ['w1'],
      });
  });

  it('reads as started a mark the data does not count, even one timed before the data’s last attempt', () => {
    const retried = stored({
      attempts: 1,
      workerIds: ['w0'],
      lastAttemptedAt: new Date(TAKEN + 10_000),
    });
    expect(
      decodeJob(
        job(retried, attemptMark(TAKEN, 'w1', 'w1:t2'), {}, 'w0:t1'),
        'active',
      ).data,
    ).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 2,
      workerIds: ['w0', 'w1'],
    });
  });

  it('reads a marked job put back to waiting as its attempt started (interrupted, for the backend to settle)', () => {
    const { data } = decodeJob(
      job(stored(), attemptMark(TAKEN, 'w1')),
      'waiting',
    );
    expect(data).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 1,
      workerIds: ['w1'],
    });
  });

  it('reads a completed job whose data its success left as taken as SUCCESSFUL, with its attempt, finish time and return value', () => {
    const { data } = decodeJob(
      job(stored(), attemptMark(TAKEN, 'w1'), {
        returnvalue: { sent: true },
        finishedOn: FINISHED,
        attemptsMade: 1,
      }),
      'completed',
    );
    expect(data).toMatchObject({
      status: TaskResultStatus.SUCCESSFUL,
      attempts: 1,
      workerIds: ['w1'],
      startedAt: new Date(TAKEN),
      lastAttemptedAt: new Date(TAKEN),
      finishedAt: new Date(FINISHED),
      returnValue: { sent: true },
    });
  });

  it('reads as SUCCESSFUL, not interrupted, a success that BullMQ put back to waiting (its own retry of a completed job)', () => {
    const { data } = decodeJob(
      job(stored(), attemptMark(TAKEN, 'w1', 'w1:t', 0), { attemptsMade: 1 }),
      'waiting',
    );
    expect(data).toMatchObject({
      status: TaskResultStatus.SUCCESSFUL,
      attempts: 1,
      workerIds: ['w1'],
    });
    expect(data.finishedAt).toBeInstanceOf(Date);
  });

  it('reads the finish time BullMQ stored as text, as a job read from its hash has it', () => {
    const { data } = decodeJob(
      job(stored(), attemptMark(TAKEN, 'w1'), {
        finishedOn: String(FINISHED),
      }),
      'completed',
    );
    expect(data.finishedAt).toEqual(new Date(FINISHED));
  });

  it('leaves data written RUNNING (progress saved during the attempt, or an older writer) as it is', () => {
    const running = stored({
      status: TaskResultStatus.RUNNING,
      attempts: 1,
      workerIds: ['w1'],
      lastAttemptedAt: new Date(TAKEN),
      progress: 0.5,
    });
    const { data } = decodeJob(
      job(running, attemptMark(TAKEN, 'w1')),
      'active',
    );
    expect(data).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 1,
      workerIds: ['w1'],
      progress: 0.5,
    });
  });

  it('ignores a mark on a finished result, and a mark it cannot read', () => {
    const failed = stored({
      status: TaskResultStatus.FAILED,
      attempts: 1,
      workerIds: ['w0'],
      lastAttemptedAt: new Date(FIRST_TRY),
      finishedAt: new Date(FIRST_TRY),
    });
    expect(
      decodeJob(job(failed, attemptMark(TAKEN, 'w1')), 'failed').data,
    ).toMatchObject({ attempts: 1, workerIds: ['w0'] });
    for (const damaged of ['{', '[1]', '["x","w"]', '[1,"w","t"]', 'null'])
      expect(decodeJob(job(stored(), damaged), 'active').data).toMatchObject({
        status: TaskResultStatus.READY,
        attempts: 0,
      });
  });

  it('writes and reads a mark back', () => {
    expect(readAttemptMark(attemptMark(TAKEN, 'w:1 2', 'w:1 2:x', 3))).toEqual({
      at: TAKEN,
      workerId: 'w:1 2',
      token: 'w:1 2:x',
      endedBefore: 3,
    });
    expect(readAttemptMark('')).toBeNull();
    expect(readAttemptMark(null)).toBeNull();
  });

  it('names the attempt that data written from a read counts: the mark’s, else the data’s', () => {
    expect(countedAttemptOf(job(stored(), attemptMark(TAKEN, 'w1', 'x')))).toBe(
      'x',
    );
    expect(countedAttemptOf(job(stored(), '', {}, 'y'))).toBe('y');
    expect(countedAttemptOf(job(stored(), ''))).toBeNull();
  });

  it('reads fields that are not JSON as a damaged job’s, defaults for BullMQ’s own', () => {
    expect(
      withReadableData([
        'data',
        '{not json',
        'opts',
        '{nor this',
        'progress',
        '%',
        'parent',
        '{',
        'name',
        'send',
      ]),
    ).toEqual([
      'data',
      JSON.stringify('{not json'),
      'opts',
      '{}',
      'progress',
      'null',
      'parent',
      '',
      'name',
      'send',
    ]);
    // BullMQ reads its options as an object.
    expect(withReadableData(['opts', 'null', 'progress', '0.5'])).toEqual([
      'opts',
      '{}',
      'progress',
      '0.5',
    ]);
  });
});
