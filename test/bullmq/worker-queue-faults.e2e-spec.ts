/**
 * BullMQBackend's worker queue when a Redis call fails part-way (a lost
 * connection, injected by making one of the backend's own calls reject
 * once) or when a cancel races an attempt's end: nothing is lost, nothing
 * runs twice, and a cancelled task never runs again.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { createServer } from 'node:net';
import type { TestingModule } from '@nestjs/testing';
import { Job, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  InvalidTaskBackendError,
  TaskQueue,
  TaskResultStatus,
} from '../../lib/index.js';
import type {
  AttemptRecord,
  ClaimedTask,
  CompletionReport,
  WorkerQueue,
} from '../../lib/backends/worker-queue.js';
import { resolveBullMQOptions } from '../../lib/backends/bullmq/bullmq-backend.options.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { RedisScripts } from '../../lib/backends/bullmq/redis-scripts.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { batchWorker } from '../support/tasks-app.js';
import { bootBullMQApp, bullmqStoreOf } from './bullmq-test-app.js';

/** Makes the `call`-th next call of `object[name]` reject as a lost connection would; returns the restore. */
function failCall<T extends object>(
  object: T,
  name: keyof T,
  call = 1,
): () => void {
  const original = object[name] as (...args: unknown[]) => Promise<unknown>;
  let calls = 0;
  (object as Record<keyof T, unknown>)[name] = function (
    this: unknown,
    ...args: unknown[]
  ) {
    calls++;
    if (calls === call)
      return Promise.reject(new Error('Connection is closed.'));
    return original.apply(this, args);
  };
  return () => {
    (object as Record<keyof T, unknown>)[name] = original;
  };
}

/**
 * Makes the next call of `object[name]`, which takes a batch as its
 * argument `batchAt` and answers one outcome each, write the batch's first
 * item alone and answer the others failed as a lost connection would;
 * returns the restore.
 */
function failAfterFirst<T extends object>(
  object: T,
  name: keyof T,
  batchAt: number,
): () => void {
  const original = object[name] as (...args: unknown[]) => Promise<unknown[]>;
  const restore = () => {
    (object as Record<keyof T, unknown>)[name] = original;
  };
  (object as Record<keyof T, unknown>)[name] = async function (
    this: unknown,
    ...args: unknown[]
  ) {
    restore();
    const batch = args[batchAt] as unknown[];
    const firstAlone = [...args];
    firstAlone[batchAt] = batch.slice(0, 1);
    const [first] = await original.apply(this, firstAlone);
    return [
      first,
      ...batch.slice(1).map(() => new Error('Connection is closed.')),
    ];
  };
  return restore;
}

/** The outcome of a claimed attempt: SUCCESSFUL with `returnValue`, or READY again (a retry due now). */
function outcome(
  claimed: ClaimedTask,
  workerId: string,
  returnValue: unknown,
): AttemptRecord {
  const data = claimed.result.snapshot;
  return {
    data:
      returnValue === undefined
        ? { ...data, status: TaskResultStatus.READY }
        : {
            ...data,
            status: TaskResultStatus.SUCCESSFUL,
            returnValue,
            finishedAt: new Date(),
          },
    workerId,
    attempt: data.attempts,
    retryAt: returnValue === undefined ? new Date() : null,
  };
}

describeWithRedis('BullMQBackend worker queue under faults', () => {
  const prefix = uniqueRedisPrefix('faults');
  let moduleRef: TestingModule;
  let queue: TaskQueue;
  let tasks: ConformanceTasks;
  let workers: WorkerQueue;
  let store: BullMQStore;

  /** The BullMQ Worker the backend moves jobs of `queueName` through. */
  const bullWorker = (queueName: string): Promise<Worker> =>
    store.worker(queueName);

  beforeAll(async () => {
    moduleRef = await bootBullMQApp({ prefix, providers: [ConformanceTasks] });
    queue = moduleRef.get(TaskQueue);
    tasks = moduleRef.get(ConformanceTasks);
    workers = queue.backend().workerQueue()!;
    store = bullmqStoreOf(queue);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await deleteRedisPrefix(prefix);
  });

  beforeEach(() => tasks.reset());

  it('claims and writes outcomes one job per call when the installed BullMQ keeps its scripts elsewhere', async () => {
    const results = await queue
      .task(ConformanceTasks, 'add')
      .using({ queueName: 'one-by-one' })
      .enqueueMany([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
    const scripts = store as unknown as Record<
      'moveToActiveScript' | 'moveToFinishedScript',
      () => Promise<string | null>
    >;
    const originals = {
      moveToActiveScript: scripts.moveToActiveScript,
      moveToFinishedScript: scripts.moveToFinishedScript,
    };
    scripts.moveToActiveScript = scripts.moveToFinishedScript = async () =>
      null;
    const together = [
      jest.spyOn(RedisScripts, 'takeJobs'),
      jest.spyOn(RedisScripts, 'finishJobs'),
    ];
    let batchedCalls: number[];
    try {
      await batchWorker(moduleRef, { queues: ['one-by-one'] }).run();
    } finally {
      // Read before the restore, which forgets them.
      batchedCalls = together.map((spy) => spy.mock.calls.length);
      Object.assign(scripts, originals);
      for (const spy of together) spy.mockRestore();
    }
    expect(batchedCalls).toEqual([0, 0]);
    expect([...tasks.executed].sort()).toEqual([
      'add(1,1)',
      'add(2,2)',
      'add(3,3)',
    ]);
    for (const [index, result] of results.entries()) {
      const done = await queue.getResult(result.id);
      expect([done.status, done.returnValue]).toEqual([
        TaskResultStatus.SUCCESSFUL,
        2 * (index + 1),
      ]);
    }
  });

  it('lists a queue before its first jobs: an enqueue whose listing fails stores nothing; a later one is not failed by it', async () => {
    const jobsOf = async () =>
      (await store.queue('listed')).getJobCounts('prioritized', 'wait');
    const record = queue
      .task(ConformanceTasks, 'record')
      .using({ queueName: 'listed' });
    let restore = failCall(RedisScripts, 'registerQueue');
    try {
      await expect(record.enqueue('first')).rejects.toThrow(
        'Connection is closed.',
      );
    } finally {
      restore();
    }
    expect(await jobsOf()).toEqual({ prioritized: 0, wait: 0 });
    const listed = await record.enqueue('second');
    restore = failCall(RedisScripts, 'registerQueue');
    let third: Awaited<ReturnType<typeof record.enqueue>>;
    try {
      third = await record.enqueue('third');
    } finally {
      restore();
    }
    expect(await jobsOf()).toEqual({ prioritized: 2, wait: 0 });
    for (const result of [listed, third])
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.READY,
      );
    // Run here, not by the workers of the tests after this one.
    await batchWorker(moduleRef, { queues: ['listed'] }).run();
    expect(tasks.executed).toEqual(['second', 'third']);
  });

  it('ends jobs of unlike outcomes in one call, each with its own values', async () => {
    const sums = await queue
      .task(ConformanceTasks, 'add')
      .using({ queueName: 'unlike' })
      .enqueueMany([
        [1, 2],
        [3, 4],
        [1, 2],
        [3, 4],
        [1, 2],
      ]);
    const failures = await queue
      .task(ConformanceTasks, 'fail')
      .using({ queueName: 'unlike' })
      .enqueueMany([['first'], ['second']]);
    const finishing = jest.spyOn(RedisScripts, 'finishJobs');
    let batches: number[];
    try {
      await batchWorker(moduleRef, {
        queues: ['unlike'],
        concurrency: 5,
      }).run();
    } finally {
      batches = finishing.mock.calls.map(([, , jobs]) => jobs.length);
      finishing.mockRestore();
    }
    // Arguments shared by the jobs of a call travel once: those that differ
    // must still reach each job, and a job like the call's first after one
    // unlike it must get the first's values back.
    expect(Math.max(...batches)).toBeGreaterThan(2);
    for (const [index, result] of sums.entries()) {
      const done = await queue.getResult(result.id);
      expect([done.status, done.returnValue]).toEqual([
        TaskResultStatus.SUCCESSFUL,
        index % 2 === 0 ? 3 : 7,
      ]);
    }
    for (const [index, result] of failures.entries()) {
      const done = await queue.getResult(result.id);
      expect(done.status).toBe(TaskResultStatus.FAILED);
      expect(done.errors.map((error) => error.message)).toEqual([
        ['first', 'second'][index],
      ]);
    }
  });

  it('writes an outcome whose write failed once when the worker retries it, the task run once', async () => {
    const result = await queue.enqueue(ConformanceTasks, 'add', 1, 2);
    const restore = failCall(RedisScripts, 'finishJobs');
    try {
      await batchWorker(moduleRef, { queues: ['*'] }).run();
    } finally {
      restore();
    }
    expect(tasks.executed).toEqual(['add(1,2)']);
    const after = await queue.getResult(result.id);
    expect(after.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(after.returnValue).toBe(3);
    const job = await (
      await store.queue(result.snapshot.queueName)
    ).getJob(result.id);
    expect(await job!.getState()).toBe('completed');
    expect(job!.returnvalue).toBe(3);
  });

  it('reports every record of a batch written on the retry after one of them failed', async () => {
    await workers.registerWorker({
      workerId: 'w-batch',
      concurrency: 2,
      queues: null,
    });
    try {
      await queue.enqueue(ConformanceTasks, 'add', 1, 1);
      await queue.enqueue(ConformanceTasks, 'add', 2, 2);
      const claimed = await workers.claim('w-batch', null, 2);
      expect(claimed).toHaveLength(2);
      const records = claimed.map((task) => outcome(task, 'w-batch', 'done'));
      const restore = failAfterFirst(RedisScripts, 'finishJobs', 2);
      try {
        await expect(workers.complete(records)).rejects.toThrow(
          'Connection is closed.',
        );
      } finally {
        restore();
      }
      const report = (await workers.complete(records)) as CompletionReport;
      expect([...report.written].sort()).toEqual(
        claimed.map((task) => task.result.id).sort(),
      );
      for (const task of claimed)
        expect((await queue.getResult(task.result.id)).status).toBe(
          TaskResultStatus.SUCCESSFUL,
        );
    } finally {
      await workers.unregisterWorker('w-batch');
    }
  });

  it('ends CANCELLED, never run again, a task cancelled while its attempt was being recorded as a retry', async () => {
    await workers.registerWorker({
      workerId: 'w-cancel',
      concurrency: 1,
      queues: null,
    });
    try {
      const result = await queue.enqueue(ConformanceTasks, 'add', 5, 5);
      const [claimed] = await workers.claim('w-cancel', null, 1);
      const { backend } = await bullWorker(result.snapshot.queueName);
      const original = backend.moveToDelayed.bind(backend);
      backend.moveToDelayed = async (...args) => {
        expect((await queue.cancel(result.id)).status).toBe(
          TaskResultStatus.RUNNING,
        );
        return original(...args);
      };
      try {
        await workers.complete([outcome(claimed, 'w-cancel', undefined)]);
      } finally {
        backend.moveToDelayed = original;
      }
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.CANCELLED,
      );
      expect(await workers.claim('w-cancel', null, 1)).toEqual([]);
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.CANCELLED,
      );
    } finally {
      await workers.unregisterWorker('w-cancel');
    }
  });

  it('starts each claim of a worker at its next queue, so that a busy queue does not starve the others', async () => {
    await workers.registerWorker({
      workerId: 'w-turns',
      concurrency: 1,
      queues: ['turns-a', 'turns-b'],
    });
    try {
      for (const queueName of ['turns-a', 'turns-b'])
        for (const n of [1, 2])
          await queue
            .task(ConformanceTasks, 'add')
            .using({ queueName })
            .enqueue(n, n);
      const taken: string[] = [];
      for (let claims = 0; claims < 2; claims++) {
        const [claimed] = await workers.claim(
          'w-turns',
          ['turns-a', 'turns-b'],
          1,
        );
        taken.push(claimed.result.snapshot.queueName);
        await workers.complete([outcome(claimed, 'w-turns', 'done')]);
      }
      expect(taken.sort()).toEqual(['turns-a', 'turns-b']);
    } finally {
      await workers.unregisterWorker('w-turns');
    }
  });

  it.each([
    ['the write of its data', () => failCall(RedisScripts, 'writeHeld')],
    ['its move to waiting', () => failCall(Job.prototype, 'moveToWait')],
  ])(
    'hands a claimed job back again when %s failed, its attempt not counted',
    async (_step, fail) => {
      const result = await queue
        .task(ConformanceTasks, 'once')
        .using({ queueName: 'handback' })
        .enqueue('back');
      await workers.registerWorker({
        workerId: 'w-handback',
        concurrency: 1,
        queues: ['handback'],
      });
      try {
        const claimed = await workers.claim('w-handback', ['handback'], 1);
        const held = claimed.map(({ result: { id, attempts } }) => ({
          id,
          attempt: attempts,
        }));
        const restore = fail();
        try {
          await expect(workers.release!('w-handback', held)).rejects.toThrow(
            /Connection is closed/,
          );
        } finally {
          restore();
        }
        await workers.release!('w-handback', held);
      } finally {
        await workers.unregisterWorker('w-handback');
      }
      const back = await queue.getResult(result.id);
      expect([back.status, back.attempts, back.workerIds]).toEqual([
        TaskResultStatus.READY,
        0,
        [],
      ]);
      await batchWorker(moduleRef, { queues: ['handback'] }).run();
      const done = await queue.getResult(result.id);
      expect([done.status, done.attempts]).toEqual([
        TaskResultStatus.SUCCESSFUL,
        1,
      ]);
      expect(tasks.executed).toEqual(['once(back)']);
    },
  );

  it('keeps what a claim took from one queue when another queue of the claim cannot be opened', async () => {
    const [first, second] = [
      await queue
        .task(ConformanceTasks, 'once')
        .using({ queueName: 'open-a' })
        .enqueue('a'),
      await queue
        .task(ConformanceTasks, 'once')
        .using({ queueName: 'open-b' })
        .enqueue('b'),
    ];
    await workers.registerWorker({
      workerId: 'w-open',
      concurrency: 2,
      queues: ['open-a', 'open-b'],
    });
    try {
      const restore = failCall(store, 'worker', 2);
      let claimed: ClaimedTask[];
      try {
        claimed = await workers.claim('w-open', ['open-a', 'open-b'], 2);
      } finally {
        restore();
      }
      expect(claimed).toHaveLength(1);
      const [taken, left] =
        claimed[0].result.id === first.id ? [first, second] : [second, first];
      expect((await queue.getResult(taken.id)).status).toBe(
        TaskResultStatus.RUNNING,
      );
      expect((await queue.getResult(left.id)).attempts).toBe(0);
      await workers.complete([outcome(claimed[0], 'w-open', 'done')]);
    } finally {
      await workers.unregisterWorker('w-open');
    }
    await batchWorker(moduleRef, { queues: ['open-a', 'open-b'] }).run();
    for (const result of [first, second])
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
  });

  it('registers a worker id once however many race for it, and removes the workers that stopped long ago', async () => {
    const client = await store.client();
    const key = store.key('workers');
    const stopped = {
      hostname: 'gone',
      pid: 1,
      queues: ['*'],
      concurrency: 1,
      startedAt: 0,
      heartbeatAt: Date.now() - 11 * workers.leaseMs,
    };
    await client.hset(key, {
      'w-stopped': JSON.stringify(stopped),
      'w-unreadable': '{not json',
      'w-late': JSON.stringify({
        ...stopped,
        heartbeatAt: Date.now() - 2 * workers.leaseMs,
      }),
    });
    const racers = await Promise.allSettled(
      Array.from({ length: 5 }, () =>
        workers.registerWorker({
          workerId: 'w-race',
          concurrency: 1,
          queues: null,
        }),
      ),
    );
    try {
      expect(racers.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const racer of racers.filter((r) => r.status === 'rejected'))
        expect((racer as PromiseRejectedResult).reason).toBeInstanceOf(
          InvalidTaskBackendError,
        );
      // Late but within ten leases: kept, and its id can be taken over.
      expect(Object.keys(await client.hgetall(key)).sort()).toEqual([
        'w-late',
        'w-race',
      ]);
      await workers.registerWorker({
        workerId: 'w-late',
        concurrency: 1,
        queues: null,
      });
      await workers.unregisterWorker('w-late');
    } finally {
      await workers.unregisterWorker('w-race');
    }
  });

  it('leaves no listener behind on a Redis client it gave up waiting for', async () => {
    const server = createServer();
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new Redis({
      host: '127.0.0.1',
      port,
      retryStrategy: () => 60_000,
      maxRetriesPerRequest: 0,
    });
    try {
      const before = client.listenerCount('ready');
      for (let tries = 0; tries < 3; tries++)
        await expect(
          store.online(
            client as unknown as Parameters<BullMQStore['online']>[0],
          ),
        ).rejects.toThrow(InvalidTaskBackendError);
      expect(client.listenerCount('ready')).toBe(before);
    } finally {
      client.disconnect();
    }
  });
});

describe('BullMQBackend options', () => {
  it.each([
    [{ workerOptions: { removeOnComplete: 10 } }, 'removeOnComplete'],
    [{ workerOptions: { removeOnFail: false } }, 'removeOnFail'],
    [
      { queueOptions: { defaultJobOptions: { removeOnComplete: true } } },
      'removeOnComplete',
    ],
  ])('refuses options that make BullMQ delete results: %j', (options, name) => {
    const resolve = () => resolveBullMQOptions('default', options);
    expect(resolve).toThrow(InvalidTaskBackendError);
    expect(resolve).toThrow(new RegExp(`${name}.*tasks:prune`));
  });
});
