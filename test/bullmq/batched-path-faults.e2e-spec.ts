/**
 * BullMQBackend's batched claim and outcome moves under faults, on the real
 * Redis: a call whose reply is lost after Redis ran it, a cancel requested
 * before a batch's worker stopped, removals landing between the steps of a
 * batch, damaged jobs inside a batch, and
 * heartbeats of a batch part of which already ended. Nothing is lost,
 * nothing runs twice, nothing stays active.
 */
import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import type {
  AttemptRecord,
  ClaimedTask,
  CompletionReport,
  HeartbeatReport,
  HeldTask,
  WorkerQueue,
} from '../../lib/backends/worker-queue.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import { describeWithRedis, uniqueRedisPrefix } from '../support/redis.js';
import { batchWorker } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';
import {
  bootWorkerQueueHarness,
  HARNESS_LEASE_MS,
  intercept,
  type WorkerQueueHarness,
} from './worker-queue-harness.js';

/** A SUCCESSFUL outcome of a claimed attempt. */
function succeeded(claimed: ClaimedTask, workerId: string): AttemptRecord {
  const data = claimed.result.snapshot;
  return {
    data: {
      ...data,
      status: TaskResultStatus.SUCCESSFUL,
      returnValue: 'done',
      finishedAt: new Date(),
    },
    workerId,
    attempt: data.attempts,
    retryAt: null,
  };
}

describeWithRedis('BullMQBackend batched claims and moves under faults', () => {
  const prefix = uniqueRedisPrefix('batched');
  let moduleRef: TestingModule;
  let queue: TaskQueue;
  let tasks: ConformanceTasks;
  let workers: WorkerQueue;
  let store: BullMQStore;
  let redis: Redis;

  const enqueue = (queueName: string, count: number) =>
    queue
      .task(ConformanceTasks, 'record')
      .using({ queueName })
      .enqueueMany(
        Array.from({ length: count }, (_, i) => [`${queueName}${i}`]),
      );
  const jobKey = (queueName: string, id: string) =>
    store.queuePrefix(queueName) + id;
  const counts = async (queueName: string) =>
    (await store.queue(queueName)).getJobCounts();
  const complete = async (records: AttemptRecord[]) =>
    (await workers.complete(records)) as CompletionReport;
  const heartbeat = async (workerId: string, held: HeldTask[]) =>
    (await workers.heartbeat(workerId, held)) as HeartbeatReport;
  const statusOf = async (id: string) => (await queue.getResult(id)).status;

  /** A worker registered on `queueName` alone, so that its stalled check looks there. */
  const register = (workerId: string, queueName: string) =>
    workers.registerWorker({ workerId, concurrency: 50, queues: [queueName] });

  /** Waits until the stalled check put every active job of `queueName` back (their locks ran out). */
  const rescueAll = async (workerId: string, queueName: string) =>
    waitFor(
      `the stalled check to empty ${queueName}'s active jobs`,
      async () => {
        await workers.rescueExpired(workerId);
        return (await counts(queueName)).active === 0;
      },
    );

  let harness: WorkerQueueHarness;
  beforeAll(async () => {
    harness = await bootWorkerQueueHarness(prefix);
    ({ moduleRef, queue, tasks, workers, store, redis } = harness);
  });

  afterAll(() => harness?.close());

  beforeEach(() => tasks.reset());

  // Guards against a job whose stored data is not JSON failing the whole
  // batched take: the batch's other jobs would be left active, untaken,
  // and taken and dropped again after every stalled check.
  it('runs the other jobs of a batch and fails the one whose data is not JSON, its reason saying so', async () => {
    const results = await enqueue('corrupt', 5);
    await redis.hset(jobKey('corrupt', results[2].id), 'data', '{not json');
    await batchWorker(moduleRef, { queues: ['corrupt'] }).run();
    expect([...tasks.executed].sort()).toEqual([
      'corrupt0',
      'corrupt1',
      'corrupt3',
      'corrupt4',
    ]);
    const job = await (await store.queue('corrupt')).getJob(results[2].id);
    expect(await job!.getState()).toBe('failed');
    expect(job!.failedReason).toMatch(/damaged|corrupt|JSON/i);
    expect((await counts('corrupt')).active).toBe(0);
  });

  // Guards against jobs lost or run twice when a batched take ran in Redis
  // but its reply was lost: they are active under a token nobody holds,
  // and must come back through the stalled check. The take marked their
  // attempts started, so each counts one interrupted attempt (as a
  // database claim whose reply was lost does) and runs once after it.
  it('recovers through the stalled check the jobs of a take whose reply was lost, each run once after one interrupted attempt', async () => {
    await register('w-take', 'take-lost');
    try {
      const results = await queue
        .task(ConformanceTasks, 'twice')
        .using({ queueName: 'take-lost' })
        .enqueueMany(Array.from({ length: 30 }, (_, i) => [`t${i}`]));
      const restore = intercept('takeJobs', { loseReply: true });
      let first: ClaimedTask[];
      try {
        first = await workers.claim('w-take', ['take-lost'], 30);
      } finally {
        restore();
      }
      expect(first).toHaveLength(5);
      await complete(first.map((task) => succeeded(task, 'w-take')));
      expect((await counts('take-lost')).active).toBe(25);
      await rescueAll('w-take', 'take-lost');
      // The first claim after the rescue records the interrupted attempts; their retries are due at once.
      const second: ClaimedTask[] = [];
      await waitFor('the retries taken', async () => {
        second.push(...(await workers.claim('w-take', ['take-lost'], 30)));
        return second.length >= 25;
      });
      expect(second).toHaveLength(25);
      expect(second.map((task) => task.result.attempts)).toEqual(
        Array(25).fill(2),
      );
      for (const task of second) {
        expect(task.result.errors.map((e) => e.errorClass)).toEqual([
          'TaskInterruptedError',
        ]);
        expect(task.result.workerIds).toEqual(['w-take', 'w-take']);
      }
      const claimedIds = [...first, ...second].map((task) => task.result.id);
      expect(new Set(claimedIds).size).toBe(30);
      await complete(second.map((task) => succeeded(task, 'w-take')));
      for (const result of results)
        expect(await statusOf(result.id)).toBe(TaskResultStatus.SUCCESSFUL);
      expect(await counts('take-lost')).toMatchObject({ active: 0 });
    } finally {
      await workers.unregisterWorker('w-take');
    }
  });

  // Guards against a batched move to finished that Redis ran but whose
  // reply was lost: the worker's retry must answer the outcomes written
  // (so that it reports them), never lose or rewrite them.
  it('answers written, on the retry, the outcomes of a batched move whose reply was lost', async () => {
    await register('w-move', 'move-lost');
    try {
      const results = await enqueue('move-lost', 3);
      const claimed = await workers.claim('w-move', ['move-lost'], 3);
      const records = claimed.map((task) => succeeded(task, 'w-move'));
      const restore = intercept('finishJobs', { loseReply: true });
      try {
        await expect(complete(records)).rejects.toThrow('Reply lost.');
      } finally {
        restore();
      }
      const report = await complete(records);
      expect([...report.written].sort()).toEqual(
        results.map((result) => result.id).sort(),
      );
      for (const result of results)
        expect(await statusOf(result.id)).toBe(TaskResultStatus.SUCCESSFUL);
    } finally {
      await workers.unregisterWorker('w-move');
    }
  });

  // Guards against a heartbeat between a lost reply and the worker's next
  // try forgetting the jobs (their locks are gone with the move): the next
  // try must still answer them written.
  it('answers written the outcomes of a lost move reply even after a heartbeat found their locks gone', async () => {
    await register('w-move-beat', 'move-beat');
    try {
      const results = await enqueue('move-beat', 2);
      const claimed = await workers.claim('w-move-beat', ['move-beat'], 2);
      const records = claimed.map((task) => succeeded(task, 'w-move-beat'));
      const restore = intercept('finishJobs', { loseReply: true });
      try {
        await expect(complete(records)).rejects.toThrow('Reply lost.');
      } finally {
        restore();
      }
      const beat = await heartbeat(
        'w-move-beat',
        claimed.map((task) => ({
          id: task.result.id,
          attempt: task.result.attempts,
        })),
      );
      expect(beat.lost).toHaveLength(2);
      const report = await complete(records);
      expect([...report.written].sort()).toEqual(
        results.map((result) => result.id).sort(),
      );
    } finally {
      await workers.unregisterWorker('w-move-beat');
    }
  });

  // Guards against a retry's move to delayed that Redis ran but whose
  // reply was lost: the worker's retry of the write must answer it
  // written, not lost.
  it('answers written, on the retry, a retry outcome whose move reply was lost', async () => {
    await register('w-retry', 'retry-lost');
    try {
      const [result] = await enqueue('retry-lost', 1);
      const [claimed] = await workers.claim('w-retry', ['retry-lost'], 1);
      const record: AttemptRecord = {
        data: { ...claimed.result.snapshot, status: TaskResultStatus.READY },
        workerId: 'w-retry',
        attempt: claimed.result.attempts,
        retryAt: new Date(Date.now() + 60_000),
      };
      const { backend } = await store.worker('retry-lost');
      const original = backend.moveToDelayed.bind(backend);
      backend.moveToDelayed = async (...args) => {
        await original(...args);
        throw new Error('Reply lost.');
      };
      try {
        await expect(complete([record])).rejects.toThrow('Reply lost.');
      } finally {
        backend.moveToDelayed = original;
      }
      expect((await complete([record])).written).toEqual([result.id]);
      expect(await statusOf(result.id)).toBe(TaskResultStatus.READY);
      expect((await counts('retry-lost')).delayed).toBe(1);
    } finally {
      await workers.unregisterWorker('w-retry');
    }
  });

  // Guards against a worker paused past its lease (SIGSTOP) writing its
  // late outcomes over the result of the worker that took its jobs over.
  it('refuses the late outcomes of a worker whose batch was taken over after its lease ran out', async () => {
    await register('w-paused', 'paused');
    await register('w-other', 'paused');
    try {
      const results = await queue
        .task(ConformanceTasks, 'twice')
        .using({ queueName: 'paused' })
        .enqueueMany([['p0'], ['p1'], ['p2']]);
      const late = await workers.claim('w-paused', ['paused'], 3);
      expect(late).toHaveLength(3);
      await rescueAll('w-other', 'paused');
      // Each interrupted attempt is settled as a retry on the way, then taken.
      const retaken: ClaimedTask[] = [];
      await waitFor('the retries taken over', async () => {
        retaken.push(...(await workers.claim('w-other', ['paused'], 3)));
        return retaken.length === 3;
      });
      expect(retaken.map((task) => task.result.attempts)).toEqual([2, 2, 2]);
      await complete(retaken.map((task) => succeeded(task, 'w-other')));
      const report = await complete(
        late.map((task) => ({
          ...succeeded(task, 'w-paused'),
          data: {
            ...succeeded(task, 'w-paused').data,
            returnValue: 'late',
          },
        })),
      );
      expect(report.written).toEqual([]);
      expect(
        (
          await heartbeat(
            'w-paused',
            late.map((task) => ({
              id: task.result.id,
              attempt: task.result.attempts,
            })),
          )
        ).lost.sort(),
      ).toEqual(results.map((result) => result.id).sort());
      for (const result of results) {
        const after = await queue.getResult(result.id);
        expect([after.status, after.attempts, after.workerIds.at(-1)]).toEqual([
          TaskResultStatus.SUCCESSFUL,
          2,
          'w-other',
        ]);
      }
    } finally {
      await workers.unregisterWorker('w-paused');
      await workers.unregisterWorker('w-other');
    }
  });

  // Guards against a task whose cancel was requested while it ran running
  // again when its worker died: taken back after the stalled check, it
  // ends CANCELLED in the take, never started again; the batch's others
  // count their interrupted attempts.
  it('ends CANCELLED, never started again, a job of a batch whose cancel was requested before its worker stopped', async () => {
    await register('w-cancel-take', 'cancel-take');
    try {
      const results = await enqueue('cancel-take', 3);
      const dead = await workers.claim('w-cancel-take', ['cancel-take'], 3);
      expect(dead).toHaveLength(3);
      expect((await queue.cancel(results[1].id)).status).toBe(
        TaskResultStatus.RUNNING,
      );
      await rescueAll('w-cancel-take', 'cancel-take');
      expect(await workers.claim('w-cancel-take', ['cancel-take'], 3)).toEqual(
        [],
      );
      const after = await Promise.all(
        results.map((result) => queue.getResult(result.id)),
      );
      expect(after.map((result) => result.status)).toEqual([
        TaskResultStatus.FAILED,
        TaskResultStatus.CANCELLED,
        TaskResultStatus.FAILED,
      ]);
      for (const result of [after[0], after[2]])
        expect(result.errors.map((e) => e.errorClass)).toEqual([
          'TaskInterruptedError',
        ]);
      expect(after[1].workerIds).toEqual(['w-cancel-take']);
      expect(await redis.hlen(store.key('cancels'))).toBe(0);
      expect(await counts('cancel-take')).toMatchObject({ active: 0 });
      expect(tasks.executed).toEqual([]);
    } finally {
      await workers.unregisterWorker('w-cancel-take');
    }
  });

  // Guards against a cancel requested while a batch of outcomes is being
  // moved: it ends CANCELLED exactly once, reported so, the others as run.
  it('ends CANCELLED once a job whose cancel was requested during its batched move', async () => {
    await register('w-cancel-move', 'cancel-move');
    try {
      const results = await enqueue('cancel-move', 3);
      const claimed = await workers.claim('w-cancel-move', ['cancel-move'], 3);
      const restore = intercept('finishJobs', {
        before: async () => {
          expect((await queue.cancel(results[0].id)).status).toBe(
            TaskResultStatus.RUNNING,
          );
        },
      });
      let report;
      try {
        report = await complete(
          claimed.map((task) => succeeded(task, 'w-cancel-move')),
        );
      } finally {
        restore();
      }
      expect(report.cancelled).toEqual([results[0].id]);
      expect(report.written).toHaveLength(3);
      expect(await statusOf(results[0].id)).toBe(TaskResultStatus.CANCELLED);
      expect(await statusOf(results[1].id)).toBe(TaskResultStatus.SUCCESSFUL);
      expect(await redis.hlen(store.key('cancels'))).toBe(0);
      const again = await complete(
        claimed.map((task) => succeeded(task, 'w-cancel-move')),
      );
      expect(again.cancelled).toEqual([results[0].id]);
    } finally {
      await workers.unregisterWorker('w-cancel-move');
    }
  });

  // Guards against jobs removed (as obliterate does) between a batch's
  // take and its move stopping the batch's others.
  it('proceeds with the rest of a batch when some of its jobs are removed before their move', async () => {
    await register('w-removed', 'removed');
    try {
      const results = await enqueue('removed', 4);
      // As Queue.obliterate({ force: true }) removes an active job.
      const remove = async (id: string) => {
        const key = jobKey('removed', id);
        await redis
          .multi()
          .lrem(`${store.queuePrefix('removed')}active`, 0, id)
          .del(key, `${key}:lock`)
          .exec();
      };
      const claimed = await workers.claim('w-removed', ['removed'], 4);
      expect(claimed.map((task) => task.result.id).sort()).toEqual(
        results.map((result) => result.id).sort(),
      );
      await remove(results[0].id);
      await remove(results[2].id);
      const report = await complete(
        claimed.map((task) => succeeded(task, 'w-removed')),
      );
      expect([...report.written].sort()).toEqual(
        [results[1].id, results[3].id].sort(),
      );
      expect(await workers.claim('w-removed', ['removed'], 4)).toEqual([]);
      expect(await counts('removed')).toMatchObject({
        active: 0,
        waiting: 0,
        completed: 2,
      });
    } finally {
      await workers.unregisterWorker('w-removed');
    }
  });

  // Guards against a heartbeat of a batch failing, or extending nothing,
  // when part of the batch already ended or was removed meanwhile.
  it('extends the locks of the jobs of a batch still held and reports the others lost', async () => {
    await register('w-beat', 'beat');
    try {
      const results = await enqueue('beat', 4);
      const claimed = await workers.claim('w-beat', ['beat'], 4);
      await complete([succeeded(claimed[0], 'w-beat')]);
      const removed = claimed[1].result.id;
      await redis.del(
        jobKey('beat', removed),
        `${jobKey('beat', removed)}:lock`,
      );
      await new Promise((resolve) => setTimeout(resolve, HARNESS_LEASE_MS / 2));
      const report = await heartbeat(
        'w-beat',
        claimed.map((task) => ({
          id: task.result.id,
          attempt: task.result.attempts,
        })),
      );
      expect([...report.lost].sort()).toEqual(
        [claimed[0].result.id, removed].sort(),
      );
      for (const task of claimed.slice(2))
        expect(
          await redis.pttl(`${jobKey('beat', task.result.id)}:lock`),
        ).toBeGreaterThan(HARNESS_LEASE_MS * 0.8);
      await complete(claimed.slice(2).map((task) => succeeded(task, 'w-beat')));
      expect(await statusOf(claimed[0].result.id)).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
      expect(results).toHaveLength(4);
    } finally {
      await workers.unregisterWorker('w-beat');
    }
  });
});
