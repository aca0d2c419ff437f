/**
 * BullMQBackend's attempt marks on the real Redis: a take marks each job's
 * attempt instead of rewriting its data, and data written later counts
 * that attempt by its claim token. These probes attack that: workers whose
 * clocks disagree or stand still, BullMQ's own retry of a completed job,
 * a cancel racing a take, the one-by-one take losing its mark's reply, a
 * damaged job inside a batch, and a stray key named like an absent one.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Redis } from 'ioredis';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import type { WorkerQueue } from '../../lib/backends/worker-queue.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import type { ResultsAdmin } from '../../lib/backends/results-admin.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  describeWithRedis,
  redisServerInstalled,
  startRedisServer,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { bootBullMQApp } from './bullmq-test-app.js';
import {
  bootWorkerQueueHarness,
  attemptOutcome,
  intercept,
  type WorkerQueueHarness,
} from './worker-queue-harness.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

describeWithRedis('BullMQBackend attempt marks', () => {
  const prefix = uniqueRedisPrefix('marks');
  let queue: TaskQueue;
  let tasks: ConformanceTasks;
  let workers: WorkerQueue;
  let store: BullMQStore;
  let results: ResultsAdmin;
  let redis: Redis;
  const realNow = Date.now.bind(Date);

  const enqueue = async (
    task: 'once' | 'twice',
    queueName: string,
    label: string,
  ) =>
    (
      await queue
        .task(ConformanceTasks, task)
        .using({ queueName })
        .enqueueMany([[label]])
    )[0];
  const read = async (id: string) => {
    const result = await queue.getResult(id);
    return {
      status: result.status,
      attempts: result.attempts,
      workerIds: result.workerIds,
      errors: result.errors.map((error) => error.errorClass),
    };
  };
  const runningIds = async () =>
    (await results.list({ status: RUNNING, limit: 100 })).results.map(
      (result) => result.id,
    );
  const counts = async (queueName: string) =>
    (await store.queue(queueName)).getJobCounts();
  /** Runs `work` with the clock of this process `offsetMs` away, or standing still when `frozen`. */
  const withClock = async <T>(
    { offsetMs = 0, frozen = false },
    work: () => Promise<T>,
  ): Promise<T> => {
    const at = realNow() + offsetMs;
    const spy = jest
      .spyOn(Date, 'now')
      .mockImplementation(() => (frozen ? at : realNow() + offsetMs));
    try {
      return await work();
    } finally {
      spy.mockRestore();
    }
  };

  let harness: WorkerQueueHarness;
  beforeAll(async () => {
    harness = await bootWorkerQueueHarness(prefix);
    ({ queue, tasks, workers, store, redis } = harness);
    results = queue.backend().admin()!.results!;
  });

  afterAll(() => harness?.close());

  beforeEach(() => tasks.reset());

  // Guards against an attempt counted by comparing times: a retake in the
  // same millisecond as the data's last attempt went uncounted.
  it('counts an attempt taken again within the same millisecond', async () => {
    const enqueued = await enqueue('twice', 'same-ms', 'x');
    const second = await withClock({ frozen: true }, async () => {
      const [first] = await workers.claim('w1', ['same-ms'], 1);
      await workers.complete([
        attemptOutcome(first, 'w1', READY, new Date(Date.now())),
      ]);
      return workers.claim('w1', ['same-ms'], 1);
    });
    expect(second.map((task) => task.result.attempts)).toEqual([2]);
    expect(await read(enqueued.id)).toMatchObject({
      status: RUNNING,
      attempts: 2,
    });
    expect(await runningIds()).toContain(enqueued.id);
    await workers.complete([attemptOutcome(second[0], 'w1', SUCCESSFUL)]);
    expect(await read(enqueued.id)).toMatchObject({
      status: SUCCESSFUL,
      attempts: 2,
      workerIds: ['w1', 'w1'],
    });
  });

  // Guards against workers whose clocks disagree: an attempt taken by a
  // worker whose clock is behind the last writer's went uncounted, so a
  // task that kept crashing its worker was retried without end.
  it('counts the attempts of workers whose clocks disagree, and fails a task whose worker crashed on its last attempt', async () => {
    await workers.registerWorker({
      workerId: 'w-rescuer',
      concurrency: 5,
      queues: ['skew'],
    });
    try {
      const enqueued = await enqueue('once', 'skew', 'y');
      await withClock({ offsetMs: 10_000 }, async () => {
        const [ahead] = await workers.claim('w-ahead', ['skew'], 1);
        await workers.complete([attemptOutcome(ahead, 'w-ahead', FAILED)]);
      });
      await results.retry(enqueued.id);
      const [behind] = await workers.claim('w-behind', ['skew'], 1);
      expect(behind.result.attempts).toBe(2);
      expect(await read(enqueued.id)).toMatchObject({
        status: RUNNING,
        attempts: 2,
        workerIds: ['w-ahead', 'w-behind'],
      });
      expect(await runningIds()).toContain(enqueued.id);
      // w-behind dies: never completes, never heartbeats.
      await harness.strand('w-rescuer', 'skew');
      expect(await read(enqueued.id)).toMatchObject({
        status: FAILED,
        attempts: 2,
        errors: ['Error', 'TaskInterruptedError'],
      });
      expect(await workers.claim('w-again', ['skew'], 1)).toEqual([]);
      expect(await read(enqueued.id)).toMatchObject({ status: FAILED });
    } finally {
      await workers.unregisterWorker('w-rescuer');
    }
  });

  // Guards against a success read as interrupted once BullMQ's own retry
  // (bull-board, Queue.retryJobs) puts its completed job back to waiting.
  it('reads as SUCCESSFUL a completed job that BullMQ itself put back to waiting, and settles it back to completed', async () => {
    const enqueued = await enqueue('once', 'reprocessed', 'z');
    const [taken] = await workers.claim('w1', ['reprocessed'], 1);
    await workers.complete([attemptOutcome(taken, 'w1', SUCCESSFUL)]);
    const job = await (await store.queue('reprocessed')).getJob(enqueued.id);
    await job!.retry('completed');
    expect(await read(enqueued.id)).toMatchObject({
      status: SUCCESSFUL,
      attempts: 1,
      workerIds: ['w1'],
      errors: [],
    });
    expect(await workers.claim('w1', ['reprocessed'], 1)).toEqual([]);
    const after = await (await store.queue('reprocessed')).getJob(enqueued.id);
    expect(await after!.getState()).toBe('completed');
    expect(await read(enqueued.id)).toMatchObject({
      status: SUCCESSFUL,
      attempts: 1,
    });
  });

  // Guards against a taken job whose data already says SUCCESSFUL (data
  // written by an earlier version) being moved to BullMQ's failed jobs.
  it('settles a taken job whose data already says SUCCESSFUL into the completed jobs', async () => {
    const enqueued = await enqueue('once', 'done-before', 's');
    const key = store.queuePrefix('done-before') + enqueued.id;
    const stored = JSON.parse((await redis.hget(key, 'data'))!) as object;
    const at = realNow() - 5;
    await redis.hset(
      key,
      'data',
      JSON.stringify({
        ...stored,
        status: SUCCESSFUL,
        finishedAt: at,
        attempts: 1,
        workerIds: ['old'],
        startedAt: at,
        lastAttemptedAt: at,
      }),
    );
    expect(await workers.claim('w1', ['done-before'], 1)).toEqual([]);
    const job = await (await store.queue('done-before')).getJob(enqueued.id);
    expect(await job!.getState()).toBe('completed');
    expect(await read(enqueued.id)).toMatchObject({
      status: SUCCESSFUL,
      attempts: 1,
      workerIds: ['old'],
    });
  });

  // Guards against a cancel of a READY task that a take, a lost lease and
  // the stalled check overtook: the cancel must see the job changed and
  // count the interrupted attempt, not write over it.
  it('counts the attempt of a take that overtook a cancel of a READY task', async () => {
    await workers.registerWorker({
      workerId: 'w-rescuer-2',
      concurrency: 5,
      queues: ['cancel-race'],
    });
    try {
      // Two attempts allowed: the interrupted one leaves the task READY, to cancel.
      const enqueued = await enqueue('twice', 'cancel-race', 'c');
      const restore = intercept('cancelWaiting', {
        before: async () => {
          expect(
            await workers.claim('w-taker', ['cancel-race'], 1),
          ).toHaveLength(1);
          await harness.strand('w-rescuer-2', 'cancel-race');
        },
      });
      let cancelled;
      try {
        cancelled = await queue.backend().cancel(enqueued.id);
      } finally {
        restore();
      }
      expect(cancelled.status).toBe(CANCELLED);
      expect(await read(enqueued.id)).toMatchObject({
        status: CANCELLED,
        attempts: 1,
        workerIds: ['w-taker'],
        errors: ['TaskInterruptedError'],
      });
      await results.retry(enqueued.id);
      expect(await read(enqueued.id)).toMatchObject({
        status: READY,
        attempts: 1,
      });
      const [again] = await workers.claim('w-again', ['cancel-race'], 1);
      expect(again.result.attempts).toBe(2);
      await workers.complete([attemptOutcome(again, 'w-again', SUCCESSFUL)]);
      expect(await read(enqueued.id)).toMatchObject({
        status: SUCCESSFUL,
        attempts: 2,
        workerIds: ['w-taker', 'w-again'],
      });
    } finally {
      await workers.unregisterWorker('w-rescuer-2');
    }
  });

  // Guards against the one-by-one take (where BullMQ's move to active
  // cannot be run for many) handing a job back with its new mark after
  // its mark's reply was lost: it would read as an interrupted attempt.
  it('hands back unmarked the jobs of a one-by-one take whose marking reply was lost', async () => {
    const enqueued = await enqueue('once', 'one-by-one', 'f');
    const scripts = store as unknown as {
      moveToActiveScript: () => Promise<string | null>;
    };
    const original = scripts.moveToActiveScript;
    scripts.moveToActiveScript = async () => null;
    const restore = intercept('markTaken', { loseReply: true });
    try {
      await expect(workers.claim('w1', ['one-by-one'], 1)).rejects.toThrow(
        'Reply lost.',
      );
      restore();
      expect(await read(enqueued.id)).toMatchObject({
        status: READY,
        attempts: 0,
        errors: [],
      });
      const [again] = await workers.claim('w1', ['one-by-one'], 1);
      expect(again.result.attempts).toBe(1);
      await workers.complete([attemptOutcome(again, 'w1', SUCCESSFUL)]);
      expect(await read(enqueued.id)).toMatchObject({
        status: SUCCESSFUL,
        attempts: 1,
        workerIds: ['w1'],
      });
    } finally {
      restore();
      scripts.moveToActiveScript = original;
    }
  });

  // Guards against one job whose BullMQ options are not JSON failing the
  // read of its whole batch: its batch-mates, already marked, would come
  // back as interrupted attempts without ever running.
  it('runs the batch-mates of a job whose BullMQ options are not JSON, and that job too', async () => {
    const enqueued = await queue
      .task(ConformanceTasks, 'once')
      .using({ queueName: 'bad-opts' })
      .enqueueMany([['a'], ['b'], ['c'], ['d']]);
    await redis.hset(
      store.queuePrefix('bad-opts') + enqueued[3].id,
      'opts',
      '{not json',
    );
    const claimed = await workers.claim('w1', ['bad-opts'], 10);
    expect(claimed.map((task) => task.result.id).sort()).toEqual(
      enqueued.map((result) => result.id).sort(),
    );
    await workers.complete(
      claimed.map((task) => attemptOutcome(task, 'w1', SUCCESSFUL)),
    );
    for (const result of enqueued)
      expect(await read(result.id)).toMatchObject({
        status: SUCCESSFUL,
        attempts: 1,
      });
    expect(await counts('bad-opts')).toMatchObject({ active: 0 });
  });
});

describeWithRedis('BullMQBackend attempt marks on a Redis of its own', () => {
  // Guards against the outcome moves asking a key named '' (the cancels
  // key they are given when cancels are not to be checked) for its length:
  // a string key of that name made them fail. Skipped only where
  // `redis-server` is not installed, and never under CI=true (see
  // `redisServerInstalled`): it runs a Redis server of its own.
  (redisServerInstalled ? it : it.skip)(
    'writes a cancelled attempt CANCELLED where a string key named "" exists',
    async () => {
      const port = 6391;
      const server = await startRedisServer(port);
      const connection = { host: '127.0.0.1', port };
      const moduleRef = await bootBullMQApp({
        prefix: uniqueRedisPrefix('marks_own'),
        providers: [ConformanceTasks],
        connection,
      });
      const raw = new Redis(connection);
      try {
        const queue = moduleRef.get(TaskQueue);
        const workers = queue.backend().workerQueue()!;
        await raw.set('', 'x');
        const enqueued = await queue.enqueue(ConformanceTasks, 'once', 'c');
        const [claimed] = await workers.claim('w1', null, 1);
        await queue.backend().cancel(enqueued.id);
        const report = await workers.complete([
          attemptOutcome(claimed, 'w1', SUCCESSFUL),
        ]);
        expect(report).toMatchObject({
          written: [enqueued.id],
          cancelled: [enqueued.id],
        });
        expect((await queue.getResult(enqueued.id)).status).toBe(CANCELLED);
      } finally {
        raw.disconnect();
        await moduleRef.close();
        await server.stop();
      }
    },
  );
});
