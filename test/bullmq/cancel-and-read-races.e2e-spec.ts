/**
 * BullMQBackend's cancel requests and result reads racing the worker's
 * moves, on the real Redis: a cancelled outcome whose reply is lost, a
 * cancel landing between a take and its settle, a settle whose reply is
 * lost, and a read made while the task finishes. A requested cancel is
 * done once and then forgotten; a read never mixes two moments of a job.
 */
import 'reflect-metadata';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import type { WorkerQueue } from '../../lib/backends/worker-queue.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { RedisScripts } from '../../lib/backends/bullmq/redis-scripts.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import { describeWithRedis, uniqueRedisPrefix } from '../support/redis.js';
import {
  bootWorkerQueueHarness,
  attemptOutcome,
  intercept,
  type WorkerQueueHarness,
} from './worker-queue-harness.js';

const { READY, SUCCESSFUL, CANCELLED } = TaskResultStatus;

describeWithRedis('BullMQBackend cancels and reads racing moves', () => {
  const prefix = uniqueRedisPrefix('races');
  let harness: WorkerQueueHarness;
  let queue: TaskQueue;
  let workers: WorkerQueue;
  let store: BullMQStore;

  const enqueue = async (queueName: string, label: string) =>
    (
      await queue
        .task(ConformanceTasks, 'twice')
        .using({ queueName })
        .enqueueMany([[label]])
    )[0];
  const statusOf = async (id: string) => (await queue.getResult(id)).status;
  const cancelRequests = async () =>
    harness.redis.hgetall(store.key('cancels'));

  beforeAll(async () => {
    harness = await bootWorkerQueueHarness(prefix);
    ({ queue, workers, store } = harness);
  });

  afterAll(() => harness?.close());

  // Guards against a cancelled outcome written twice with two finish
  // times: the retried write found its first try's data unlike its own,
  // answered it unwritten and left the cancel request behind, which then
  // cancelled the task again after a retry from the dashboard.
  it('answers written, on the retry, a cancelled outcome whose reply was lost, and forgets the request', async () => {
    const enqueued = await enqueue('cancel-lost', 'a');
    const [claimed] = await workers.claim('w1', ['cancel-lost'], 1);
    expect((await queue.backend().cancel(enqueued.id)).status).toBe(
      TaskResultStatus.RUNNING,
    );
    const record = attemptOutcome(
      claimed,
      'w1',
      READY,
      new Date(Date.now() + 60_000),
    );
    const restore = intercept('finishJobs', { loseReply: true });
    try {
      await expect(workers.complete([record])).rejects.toThrow('Reply lost.');
    } finally {
      restore();
    }
    expect(await workers.complete([record])).toEqual({
      written: [enqueued.id],
      cancelled: [enqueued.id],
    });
    expect(await statusOf(enqueued.id)).toBe(CANCELLED);
    expect(await cancelRequests()).toEqual({});
    await queue.backend().admin()!.results!.retry(enqueued.id);
    const [again] = await workers.claim('w2', ['cancel-lost'], 1);
    expect(again.result.id).toBe(enqueued.id);
  });

  // Guards against a cancel that landed between a take and its settle (it
  // saw the job active, so it asked the holder) being dropped when the
  // settle wrote a retry: the task then ran to the end.
  it('cancels a task whose cancel landed between its take and the settle of its interrupted attempt', async () => {
    await workers.registerWorker({
      workerId: 'rescuer',
      concurrency: 1,
      queues: ['cancel-settle'],
    });
    try {
      const enqueued = await enqueue('cancel-settle', 'c');
      await workers.claim('w1', ['cancel-settle'], 1);
      await harness.strand('rescuer', 'cancel-settle');
      const scripts = RedisScripts as unknown as Record<
        string,
        (...args: unknown[]) => Promise<unknown>
      >;
      const original = scripts.takeJobs;
      let answered: TaskResultStatus | undefined;
      scripts.takeJobs = async (...args: unknown[]) => {
        const taken = await original(...args);
        scripts.takeJobs = original;
        answered = (await queue.backend().cancel(enqueued.id)).status;
        return taken;
      };
      try {
        expect(await workers.claim('w2', ['cancel-settle'], 1)).toEqual([]);
      } finally {
        scripts.takeJobs = original;
      }
      expect(answered).toBe(TaskResultStatus.RUNNING);
      const read = await queue.getResult(enqueued.id);
      expect([read.status, read.attempts]).toEqual([CANCELLED, 1]);
      expect(read.errors.map((error) => error.errorClass)).toEqual([
        'TaskInterruptedError',
      ]);
      expect(await cancelRequests()).toEqual({});
      expect(await workers.claim('w3', ['cancel-settle'], 1)).toEqual([]);
    } finally {
      await workers.unregisterWorker('rescuer');
    }
  });

  // Guards against a request left behind by a settle whose reply was lost
  // (the job CANCELLED in Redis, the request never cleared): a retry from
  // the dashboard was cancelled again at its next take.
  it('runs a task retried from the dashboard although a request to cancel it was left behind', async () => {
    await workers.registerWorker({
      workerId: 'rescuer-2',
      concurrency: 1,
      queues: ['settle-lost'],
    });
    try {
      const enqueued = await enqueue('settle-lost', 'd');
      await workers.claim('w1', ['settle-lost'], 1);
      await queue.backend().cancel(enqueued.id);
      await harness.strand('rescuer-2', 'settle-lost');
      const { backend } = await store.worker('settle-lost');
      const moves = backend as unknown as {
        moveToFinished: (...args: unknown[]) => Promise<unknown>;
      };
      const original = moves.moveToFinished;
      moves.moveToFinished = async (...args: unknown[]) => {
        await original.apply(backend, args);
        moves.moveToFinished = original;
        throw new Error('Reply lost.');
      };
      try {
        await expect(workers.claim('w2', ['settle-lost'], 1)).rejects.toThrow(
          'Reply lost.',
        );
      } finally {
        moves.moveToFinished = original;
      }
      expect(await statusOf(enqueued.id)).toBe(CANCELLED);
      await queue.backend().admin()!.results!.retry(enqueued.id);
      expect(await cancelRequests()).toEqual({});
      const [again] = await workers.claim('w3', ['settle-lost'], 1);
      expect(again.result.id).toBe(enqueued.id);
      await workers.complete([attemptOutcome(again, 'w3', SUCCESSFUL)]);
      expect(await statusOf(enqueued.id)).toBe(SUCCESSFUL);
    } finally {
      await workers.unregisterWorker('rescuer-2');
    }
  });

  // Guards against a read whose fields and state came from either side of
  // the task's end: SUCCESSFUL with no return value and no finish time.
  it('reads a task that finishes during the read whole, never half before and half after', async () => {
    const enqueued = await enqueue('read-race', 'f');
    const [claimed] = await workers.claim('w1', ['read-race'], 1);
    const reads = store as unknown as {
      findJob: (id: string) => Promise<unknown>;
    };
    const original = reads.findJob;
    reads.findJob = async (id: string) => {
      const job = await original.call(store, id);
      reads.findJob = original;
      await workers.complete([attemptOutcome(claimed, 'w1', SUCCESSFUL)]);
      return job;
    };
    try {
      const read = await queue.getResult(enqueued.id);
      expect(read.status).toBe(SUCCESSFUL);
      expect(read.returnValue).toBe('done');
      expect(read.finishedAt).toBeInstanceOf(Date);
    } finally {
      reads.findJob = original;
    }
  });
});
