/**
 * BullMQBackend in one process on the real Redis: what the conformance
 * suite does not cover — unique tasks, cancelling a running task, periodic
 * ticks, connections (lazy, closed on shutdown, Redis down), options and
 * check().
 */
import 'reflect-metadata';
import { createServer } from 'node:net';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  ImmediateBackend,
  InvalidTaskBackendError,
  InvalidTaskError,
  Task,
  TaskQueue,
  TaskResultStatus,
} from '../../lib/index.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  redisServerInstalled,
  startRedisServer,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import {
  bootBullMQApp,
  bullmqOptions,
  bullmqStoreOf,
} from './bullmq-test-app.js';
import { TaskMessages } from '../../lib/tasks.messages.js';

@Injectable()
class KeyedTasks {
  /** Outlasts its timeout. */
  @Task({ timeout: 50 })
  async slow(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    return 'too late';
  }

  /** Unique by its key: while one is READY or RUNNING, an enqueue of the same key returns it. */
  @Task({ unique: { key: (key: string) => key } })
  keyed(key: string): string {
    return key;
  }
}

/** A port on loopback that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Names of the Redis connections BullMQ opened for keys under `prefix`. */
async function connectionsOf(redis: Redis, prefix: string): Promise<string[]> {
  const list = (await redis.client('LIST')) as string;
  return list
    .split('\n')
    .map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? '')
    .filter((name) => name.startsWith(`${prefix}:`));
}

describeWithRedis('BullMQBackend', () => {
  const prefix = uniqueRedisPrefix('backend');
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS);
  });

  afterEach(() => deleteRedisPrefix(prefix));

  afterAll(() => redis.disconnect());

  describe('an app on it', () => {
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: ConformanceTasks;

    beforeAll(async () => {
      moduleRef = await bootBullMQApp({
        prefix,
        providers: [ConformanceTasks, KeyedTasks],
      });
      queue = moduleRef.get(TaskQueue);
      tasks = moduleRef.get(ConformanceTasks);
    });

    afterAll(() => moduleRef?.close());

    beforeEach(() => tasks.reset());

    it('returns the waiting result of a unique task for its key, and a new one once it finished or was cancelled', async () => {
      const keyed = queue.task(KeyedTasks, 'keyed');
      const first = await keyed.enqueue('a');
      expect((await keyed.enqueue('a')).id).toBe(first.id);
      const [a, again, b] = await keyed.enqueueMany([['a'], ['a'], ['b']]);
      expect([a.id, again.id]).toEqual([first.id, first.id]);
      expect(b.id).not.toBe(first.id);

      await queue.cancel(b.id);
      const afterCancel = await keyed.enqueue('b');
      expect(afterCancel.id).not.toBe(b.id);

      await batchWorker(moduleRef, { queues: ['*'] }).run();
      expect((await queue.getResult(first.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
      const afterRun = await keyed.enqueue('a');
      expect(afterRun.id).not.toBe(first.id);
      expect(afterRun.status).toBe(TaskResultStatus.READY);
    });

    it('ends a running task CANCELLED when this process cancels it, its signal aborted', async () => {
      const enqueued = await queue.enqueue(
        ConformanceTasks,
        'withProgress',
        'c',
      );
      const worker = batchWorker(moduleRef, { queues: ['*'] });
      const running = worker.run();
      try {
        await tasks.gate.reached;
        const cancelling = await queue.cancel(enqueued.id);
        expect(cancelling.status).toBe(TaskResultStatus.RUNNING);
      } finally {
        tasks.gate.release();
      }
      await expect(running).resolves.toBe('drained');
      const done = await queue.getResult(enqueued.id);
      expect(done.status).toBe(TaskResultStatus.CANCELLED);
      expect(done.attempts).toBe(1);
      expect(done.progress).toBe(0.5);
      await expect(queue.cancel(enqueued.id)).rejects.toThrow(/CANCELLED/);
    });

    it('fails an attempt that outlasts its timeout with TaskTimeoutError', async () => {
      const enqueued = await queue.enqueue(KeyedTasks, 'slow');
      await batchWorker(moduleRef, { queues: ['*'] }).run();
      const done = await queue.getResult(enqueued.id);
      expect(done.status).toBe(TaskResultStatus.FAILED);
      expect(done.errors.map((error) => error.errorClass)).toEqual([
        'TaskTimeoutError',
      ]);
    });

    it('reports since when the longest-waiting due task has been due', async () => {
      const admin = queue.backend().admin()!;
      await expect(admin.oldestDueReady()).resolves.toBeNull();
      const due = new Date(Date.now() - 60_000);
      const record = queue.task(ConformanceTasks, 'record');
      await record
        .using({ runAfter: new Date(Date.now() + 3_600_000) })
        .enqueue('later');
      await expect(admin.oldestDueReady()).resolves.toBeNull();
      const added = Date.now();
      await record.enqueue('now');
      // Due a minute ago, added now: waiting since it was added.
      await record.using({ runAfter: due, priority: 5 }).enqueue('due');
      const since = (await admin.oldestDueReady())!.getTime();
      expect(since).toBeGreaterThanOrEqual(added);
      expect(since).toBeLessThanOrEqual(Date.now());
    });

    it('finds the longest-waiting due task at the head of any priority level, reading only the heads', async () => {
      const admin = queue.backend().admin()!;
      const record = queue.task(ConformanceTasks, 'record');
      const store = bullmqStoreOf(queue);
      const client = await store.client();
      const now = Date.now();
      const at = (minutes: number) => new Date(now - minutes * 60_000);
      // Each head added and due the longer ago the lower its priority
      // (added written behind the backend's back); behind each head, many
      // later ones, none of them read.
      for (const priority of [7, 0, -7]) {
        const head = await record
          .using({ priority, runAfter: at(10 - priority) })
          .enqueue('head');
        await client.hset(
          store.queuePrefix(head.snapshot.queueName) + head.id,
          { timestamp: String(at(10 - priority).getTime()) },
        );
        await record
          .using({ priority })
          .enqueueMany(Array.from({ length: 50 }, () => ['behind'] as const));
      }
      await expect(admin.oldestDueReady()).resolves.toEqual(at(17));
      // Due long ago but added now: waiting since it was added.
      await record.using({ runAfter: at(60) }).enqueue('late');
      await expect(admin.oldestDueReady()).resolves.toEqual(at(17));
    });

    it('counts cancelled jobs among the latest failed ones, estimating beyond them', async () => {
      const store = bullmqStoreOf(queue);
      const client = await store.client();
      const cancelled = await queue
        .task(ConformanceTasks, 'record')
        .using({ queueName: 'estimates' })
        .enqueue('cancelled');
      await queue.cancel(cancelled.id);
      const exact = await queue.backend().admin()!.status();
      expect(exact.counts.filter((c) => c.queue === 'estimates')).toEqual([
        {
          queue: 'estimates',
          status: TaskResultStatus.CANCELLED,
          count: 1,
          precision: 'exact',
        },
      ]);
      // 11,999 older failed jobs, every fourth cancelled: the latest
      // 10,000 (the real one among them) hold 2,500 cancelled.
      const prefixOf = store.queuePrefix('estimates');
      const reason = TaskMessages.bullmqCancelledReason();
      const pipeline = (client as unknown as Redis).pipeline();
      for (let i = 1; i < 12_000; i++) {
        pipeline.zadd(`${prefixOf}failed`, i, `old-${i}`);
        if (i % 4 === 0)
          pipeline.hset(`${prefixOf}old-${i}`, { failedReason: reason });
      }
      await pipeline.exec();
      const estimated = await queue.backend().admin()!.status();
      expect(estimated.counts.filter((c) => c.queue === 'estimates')).toEqual([
        {
          queue: 'estimates',
          status: TaskResultStatus.CANCELLED,
          count: 3_000,
          precision: 'estimate',
        },
        {
          queue: 'estimates',
          status: TaskResultStatus.FAILED,
          count: 9_000,
          precision: 'estimate',
        },
      ]);
    });

    it('refuses a queue name BullMQ cannot take', () => {
      expect(() =>
        queue.task(ConformanceTasks, 'add').using({ queueName: 'a:b' }),
      ).toThrow(InvalidTaskError);
    });

    it('takes each tick of a periodic task once across processes, the first one seen only recorded', async () => {
      const other = await bootBullMQApp({ prefix });
      try {
        const mine = queue.backend().workerQueue()!;
        const theirs = other.get(TaskQueue).backend().workerQueue()!;
        const enqueued: string[] = [];
        const enqueue = (who: string) => async () => {
          enqueued.push(who);
        };
        const tick = (ms: number) => new Date(1_800_000_000_000 + ms);
        expect(await mine.claimTick!('T', tick(0), enqueue('mine'))).toBe(
          false,
        );
        expect(await theirs.claimTick!('T', tick(0), enqueue('theirs'))).toBe(
          false,
        );
        expect(
          await theirs.claimTick!('T', tick(1000), enqueue('theirs')),
        ).toBe(true);
        expect(await mine.claimTick!('T', tick(1000), enqueue('mine'))).toBe(
          false,
        );
        expect(await mine.claimTick!('T', tick(500), enqueue('mine'))).toBe(
          false,
        );
        expect(enqueued).toEqual(['theirs']);
        const status = await queue.backend().admin()!.status();
        expect(status.lastTicks).toEqual([
          { taskName: 'T', lastTick: tick(1000) },
        ]);
      } finally {
        await other.close();
      }
    });
  });

  it('is run by the in-process worker of its alias', async () => {
    const moduleRef = await bootTasksApp({
      backends: {
        default: { backend: ImmediateBackend },
        redis: {
          backend: BullMQBackend,
          queues: ['default', 'reports'],
          options: bullmqOptions({ prefix }),
        },
      },
      extraOptions: { worker: { backend: 'redis', concurrency: 4 } },
      providers: [ConformanceTasks],
    });
    try {
      const queue = moduleRef.get(TaskQueue);
      const results = await queue
        .task(ConformanceTasks, 'add')
        .using({ backend: 'redis', queueName: 'reports' })
        .enqueueMany([
          [1, 2],
          [3, 4],
        ]);
      expect(results.map((result) => result.backend)).toEqual([
        'redis',
        'redis',
      ]);
      await waitFor('both tasks to run', async () => {
        const read = await Promise.all(
          results.map((result) => queue.getResult(result.id, 'redis')),
        );
        return read.every((result) => result.isFinished);
      });
      for (const [index, result] of results.entries()) {
        const done = await queue.getResult(result.id, 'redis');
        expect(done.status).toBe(TaskResultStatus.SUCCESSFUL);
        expect(done.returnValue).toBe([3, 7][index]);
      }
    } finally {
      await moduleRef.close();
    }
  });

  it('wakes a worker of another process when a task is enqueued, without waiting for its next poll', async () => {
    const workers = await bootBullMQApp({
      prefix,
      providers: [ConformanceTasks],
    });
    const web = await bootBullMQApp({ prefix, providers: [ConformanceTasks] });
    try {
      const queue = web.get(TaskQueue);
      // Its queue known to the workers' process before it listens.
      const first = await queue.enqueue(ConformanceTasks, 'add', 0, 0);
      const worker = workers
        .get(WorkerFactory)
        .create({ queues: ['*'], intervalMs: 3_600_000 });
      const running = worker.run();
      try {
        await waitFor(
          'the first task to run',
          async () => (await queue.getResult(first.id)).isFinished,
        );
        // The worker sleeps until its next poll, an hour away, unless woken.
        const second = await queue.enqueue(ConformanceTasks, 'add', 1, 1);
        await waitFor(
          'the second task to run',
          async () => (await queue.getResult(second.id)).isFinished,
        );
      } finally {
        worker.stop();
        await running;
      }
    } finally {
      await web.close();
      await workers.close();
    }
  });

  /** Two worker processes (their own apps and connections) that poll once an hour: only wake-ups start their tasks. */
  async function idleWorkers(concurrency: number, { queueKnown = true } = {}) {
    const web = await bootBullMQApp({ prefix, providers: [ConformanceTasks] });
    const apps = [
      await bootBullMQApp({ prefix, providers: [ConformanceTasks] }),
      await bootBullMQApp({ prefix, providers: [ConformanceTasks] }),
    ];
    const queue = web.get(TaskQueue);
    // Its queue known to the workers' processes before they listen.
    if (queueKnown) await queue.enqueue(ConformanceTasks, 'add', 0, 0);
    const workers = apps.map((app, i) =>
      app.get(WorkerFactory).create({
        queues: ['*'],
        concurrency,
        prefetch: 0,
        intervalMs: 3_600_000,
        workerId: `idle-${i}`,
      }),
    );
    const runs: Promise<unknown>[] = [];
    const start = async (i: number) => {
      runs.push(workers[i].run());
      // Its first claim made and its wait for wake-ups begun.
      await new Promise((resolve) => setTimeout(resolve, 300));
    };
    const close = async () => {
      for (const app of apps) app.get(ConformanceTasks).gate.release();
      for (const worker of workers) worker.stop();
      await Promise.all(runs);
      await Promise.all([web, ...apps].map((app) => app.close()));
    };
    return { queue, apps, start, close };
  }

  it('wakes an idle worker of another process when the one that took the wake-up has no free slot', async () => {
    const { queue, apps, start, close } = await idleWorkers(1);
    try {
      const hold = await queue.enqueue(
        ConformanceTasks,
        'withProgress',
        'hold',
      );
      await start(0);
      await apps[0].get(ConformanceTasks).gate.reached;
      // Waits for wake-ups after the busy worker did: the busy one is woken first.
      await start(1);
      const quick = await queue.enqueue(ConformanceTasks, 'add', 2, 3);
      await waitFor(
        'the quick task to run',
        async () => (await queue.getResult(quick.id)).isFinished,
      );
      expect((await queue.getResult(quick.id)).workerIds).toEqual(['idle-1']);
      expect((await queue.getResult(hold.id)).status).toBe(
        TaskResultStatus.RUNNING,
      );
    } finally {
      await close();
    }
  });

  it.each([
    ['known before they listened', true],
    ['first used after they began listening', false],
  ])(
    'wakes every idle worker of other processes for a burst larger than one can take, on a queue %s',
    async (_, queueKnown) => {
      const { queue, apps, start, close } = await idleWorkers(2, {
        queueKnown,
      });
      try {
        await start(0);
        await start(1);
        // One enqueue: BullMQ sets the queue's marker once, however many jobs.
        const burst = await queue
          .task(ConformanceTasks, 'withProgress')
          .enqueueMany([['b1'], ['b2'], ['b3'], ['b4']]);
        await waitFor('the burst to run in both workers', async () => {
          const read = await Promise.all(
            burst.map((result) => queue.getResult(result.id)),
          );
          return read.every(
            (result) => result.status === TaskResultStatus.RUNNING,
          );
        });
        const ran = await Promise.all(
          burst.map(
            async (result) => (await queue.getResult(result.id)).workerIds,
          ),
        );
        expect(ran.flat().sort()).toEqual([
          'idle-0',
          'idle-0',
          'idle-1',
          'idle-1',
        ]);
        for (const app of apps) app.get(ConformanceTasks).gate.release();
        await waitFor('the burst to finish', async () =>
          (await Promise.all(burst.map((r) => queue.getResult(r.id)))).every(
            (result) => result.isFinished,
          ),
        );
      } finally {
        await close();
      }
    },
  );

  it('runs on an ioredis instance of the application, which it leaves open', async () => {
    const shared = new Redis({ ...TEST_REDIS, maxRetriesPerRequest: null });
    const moduleRef = await bootTasksApp({
      backends: {
        default: {
          backend: BullMQBackend,
          queues: [],
          options: { ...bullmqOptions({ prefix }), connection: shared },
        },
      },
      providers: [ConformanceTasks],
    });
    try {
      const queue = moduleRef.get(TaskQueue);
      const enqueued = await queue.enqueue(ConformanceTasks, 'add', 2, 3);
      await batchWorker(moduleRef, { queues: ['*'] }).run();
      expect((await queue.getResult(enqueued.id)).returnValue).toBe(5);
    } finally {
      await moduleRef.close();
    }
    try {
      expect(shared.status).toBe('ready');
      await expect(shared.ping()).resolves.toBe('PONG');
    } finally {
      shared.disconnect();
    }
  });

  it('opens no connection until first used, and closes them all on shutdown', async () => {
    const moduleRef = await bootBullMQApp({
      prefix,
      providers: [ConformanceTasks],
    });
    try {
      expect(await connectionsOf(redis, prefix)).toEqual([]);
      await moduleRef.get(TaskQueue).enqueue(ConformanceTasks, 'add', 1, 2);
      await batchWorker(moduleRef, { queues: ['*'] }).run();
      expect((await connectionsOf(redis, prefix)).length).toBeGreaterThan(0);
    } finally {
      await moduleRef.close();
    }
    expect(await connectionsOf(redis, prefix)).toEqual([]);
  });

  it('fails an enqueue with a clear error when Redis is not reachable', async () => {
    const port = await closedPort();
    const moduleRef = await bootBullMQApp({
      prefix,
      providers: [ConformanceTasks],
      connection: { host: '127.0.0.1', port },
    });
    try {
      const queue = moduleRef.get(TaskQueue);
      const enqueue = queue.enqueue(ConformanceTasks, 'add', 1, 2);
      await expect(enqueue).rejects.toThrow(InvalidTaskBackendError);
      await expect(
        queue.enqueue(ConformanceTasks, 'add', 1, 2),
      ).rejects.toThrow(
        new RegExp(`Redis at 127\\.0\\.0\\.1:${port} is not reachable`),
      );
      await expect(queue.getResult('any')).rejects.toThrow(/not reachable/);
      const messages = await queue.backend().check();
      expect(messages).toHaveLength(1);
      expect(messages[0].level).toBe('error');
      expect(messages[0].message).toMatch(/not reachable/);
    } finally {
      await moduleRef.close();
    }
  });

  // A Redis server of its own, killed and started again on the same port.
  (redisServerInstalled ? it : it.skip)(
    'fails an enqueue with a clear error when Redis went away, and enqueues again once it is back',
    async () => {
      const port = await closedPort();
      let server = await startRedisServer(port);
      const moduleRef = await bootBullMQApp({
        prefix,
        providers: [ConformanceTasks],
        connection: { host: '127.0.0.1', port },
      });
      try {
        const queue = moduleRef.get(TaskQueue);
        await queue.enqueue(ConformanceTasks, 'add', 1, 2);
        await server.stop();
        await expect(
          queue.enqueue(ConformanceTasks, 'add', 3, 4),
        ).rejects.toThrow(
          new RegExp(`Redis at 127\\.0\\.0\\.1:${port} is not reachable`),
        );
        server = await startRedisServer(port);
        await waitFor('the enqueue to succeed again', () =>
          queue.enqueue(ConformanceTasks, 'add', 5, 6).then(
            (result) => result.status === TaskResultStatus.READY,
            () => false,
          ),
        );
      } finally {
        await moduleRef.close();
        await server.stop();
      }
    },
  );

  it('refuses bad options at bootstrap, naming them', async () => {
    const boot = (options: Record<string, unknown>) =>
      bootTasksApp({
        backends: { default: { backend: BullMQBackend, options } },
      });
    await expect(boot({ prefix: 'a:b' })).rejects.toThrow(
      /'prefix' must be a non-empty string without ':'/,
    );
    await expect(boot({ host: 'redis' })).rejects.toThrow(
      /unknown option\(s\) host/,
    );
    await expect(
      boot({ queueOptions: { connection: { port: 1 } } }),
    ).rejects.toThrow(/'queueOptions' must not set 'connection'/);
    await expect(boot({ workerOptions: { lockDuration: 10 } })).rejects.toThrow(
      /lockDuration/,
    );
    await expect(boot({ connection: 'redis://x' })).rejects.toThrow(
      InvalidTaskBackendError,
    );
  });

  it('check() warns about job options that delete results or that the backend sets itself', async () => {
    const moduleRef = await bootTasksApp({
      backends: {
        default: {
          backend: BullMQBackend,
          options: {
            ...bullmqOptions({ prefix }),
            queueOptions: {
              defaultJobOptions: { removeOnComplete: 1000, attempts: 5 },
            },
          },
        },
      },
    });
    try {
      const messages = await moduleRef.get(TaskQueue).backend().check();
      expect(messages.map((message) => message.level)).toEqual([
        'warning',
        'warning',
      ]);
      expect(messages[0].message).toContain("'removeOnComplete'");
      expect(messages[1].message).toContain("'attempts'");
    } finally {
      await moduleRef.close();
    }
  });
});
