/**
 * BullMQBackend with an outbox on each test database: an enqueue inside a
 * transaction writes an outbox row in it, relayed to Redis once the
 * transaction has committed; a rolled-back transaction or savepoint leaves
 * neither row nor job; with Redis down the committed row waits for a
 * worker's sweep; two sweeps at once relay each row once.
 */
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import {
  InvalidTaskBackendError,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  type TaskResult,
} from '../../lib/index.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { pruneResults } from '../../lib/cli/commands/prune.command.js';
import { TaskOutbox } from '../../lib/dispatch/task-outbox.js';
import {
  RedisRecordedTasks,
  runsKey,
  type RecordedRun,
} from '../src/redis-recorded-tasks.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import {
  DispatchFailures,
  enqueueAroundRollbacks,
  workUntil,
} from '../support/outbox.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';
import { bullmqOptions } from './bullmq-test-app.js';

describeWithRedis('BullMQBackend with an outbox', () => {
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(TEST_REDIS);
  });

  afterAll(() => redis?.disconnect());

  describe.each(availableDatabases())('on $name', (db: TestDatabase) => {
    const table = uniqueTableName('t_outbox_bq');
    const prefix = uniqueRedisPrefix('outbox');
    const apps: TestingModule[] = [];
    let ds: DataSource;
    /** Between the apps and Redis: cut it to take Redis away. */
    let proxy: TcpProxy;
    let moduleRef: TestingModule;
    let queue: TaskQueue;

    /** An app whose default backend is a BullMQBackend, through the proxy, with an outbox on `ds`. */
    const boot = async () => {
      const app = await bootTasksApp({
        backends: {
          default: {
            backend: BullMQBackend,
            queues: [],
            options: bullmqOptions({
              prefix,
              // Reconnects soon after the proxy is restored, however long it was cut.
              connection: {
                ...TEST_REDIS,
                port: proxy.port,
                retryStrategy: () => 100,
              },
            }),
            outbox: { dataSource: ds, tableName: table },
          },
        },
        providers: [RedisRecordedTasks, DispatchFailures],
      });
      apps.push(app);
      return app;
    };
    const inTransaction = <T>(work: () => Promise<T>): Promise<T> =>
      queue.transaction(work, { dataSource: ds });
    const outboxIds = async (): Promise<string[]> =>
      (
        (await ds.query(`SELECT id FROM ${table}_outbox ORDER BY seq`)) as {
          id: string;
        }[]
      ).map((row) => String(row.id));
    const runs = async (): Promise<RecordedRun[]> =>
      (await redis.lrange(runsKey(prefix), 0, -1)).map(
        (text) => JSON.parse(text) as RecordedRun,
      );
    const runsOf = async (id: string) =>
      (await runs()).filter((run) => run.id === id).length;
    const failures = () => moduleRef.get(DispatchFailures).events;
    const redisAnswers = async () =>
      (await queue.backend().check()).every(
        (message) => message.level !== 'error',
      );

    beforeAll(async () => {
      process.env.TASKS_TEST_REDIS_PREFIX = prefix;
      ds = await openTestDataSource(db, table);
      proxy = await TcpProxy.start(TEST_REDIS.port, TEST_REDIS.host);
      moduleRef = await boot();
      queue = moduleRef.get(TaskQueue);
    });

    afterEach(async () => {
      failures().length = 0;
      await ds.query(`DELETE FROM ${table}_outbox`);
      await deleteRedisPrefix(prefix);
    });

    afterAll(async () => {
      for (const app of apps) await app.close();
      // Closed connections may still be saying goodbye: cut now, one would reconnect.
      if (proxy)
        await waitFor(
          'the apps to close their connections',
          () => proxy.openSockets === 0,
        );
      await proxy?.close();
      await deleteRedisPrefix(prefix);
      await closeTestDataSource(db, ds, table);
    });

    it('relays a committed enqueue at once: its id from the start, its job after COMMIT, no row left', async () => {
      let inside!: TaskResult<number>;
      await inTransaction(async () => {
        inside = await queue.enqueue(RedisRecordedTasks, 'record', 1);
        await expect(queue.getResult(inside.id)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
      });
      expect(inside.status).toBe(TaskResultStatus.READY);
      const stored = await queue.getResult(inside.id);
      expect(stored.status).toBe(TaskResultStatus.READY);
      expect(stored.args).toEqual([1]);
      expect(await outboxIds()).toEqual([]);
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect(await runsOf(inside.id)).toBe(1);
      expect((await queue.getResult(inside.id)).returnValue).toBe(1);
    });

    it('carries everything an enqueue sets: priority, queue, runAfter, metadata, unique key', async () => {
      const runAfter = new Date(Date.now() + 3_600_000);
      let deferred!: TaskResult<number>;
      await inTransaction(async () => {
        deferred = await queue
          .task(RedisRecordedTasks, 'record')
          .using({
            priority: 7,
            queueName: 'reports',
            runAfter,
            metadata: { origin: 'outbox' },
            uniqueKey: 'nightly',
          })
          .enqueue(3);
      });
      const stored = await queue.getResult(deferred.id);
      expect(stored.snapshot).toEqual({
        ...deferred.snapshot,
        enqueuedAt: expect.any(Date),
      });
      expect(stored.snapshot).toMatchObject({
        priority: 7,
        queueName: 'reports',
        runAfter,
        metadata: { origin: 'outbox' },
        uniqueKey: 'nightly',
        maxAttempts: 1,
      });
    });

    it('leaves neither row nor job after a rollback, or after a rolled-back savepoint', async () => {
      const { dropped, kept, inner } = await enqueueAroundRollbacks(
        inTransaction,
        (n) => queue.enqueue(RedisRecordedTasks, 'record', n),
      );
      expect(await outboxIds()).toEqual([]);
      for (const gone of [dropped, inner])
        await expect(queue.getResult(gone.id)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
      expect((await queue.getResult(kept.id)).status).toBe(
        TaskResultStatus.READY,
      );
      expect(failures()).toEqual([]);
    });

    it('with Redis down: refuses an enqueue outside a transaction; commits one inside it, relayed and run once Redis is back', async () => {
      proxy.cut();
      try {
        const refused = queue.enqueue(RedisRecordedTasks, 'record', 5);
        await expect(refused).rejects.toThrow(InvalidTaskBackendError);
        await expect(refused).rejects.toThrow(
          /Redis at .* is not reachable|could not be stored/,
        );
        let committed!: TaskResult<number>;
        await inTransaction(async () => {
          committed = await queue.enqueue(RedisRecordedTasks, 'record', 6);
        });
        // The relay after COMMIT failed (the commit waited for it a moment
        // only): reported, never thrown; the row stays.
        await waitFor(
          'the relay after COMMIT to fail',
          async () => failures().length > 0,
          15_000,
        );
        expect(failures().map((event) => event.result.id)).toEqual([
          committed.id,
        ]);
        expect(failures()[0].error).toBeInstanceOf(InvalidTaskBackendError);
        expect(await outboxIds()).toEqual([committed.id]);

        proxy.restore();
        await waitFor('Redis to answer again', redisAnswers, 15_000);
        await workUntil(
          moduleRef,
          "a worker's sweep to relay the task, and a worker to run it",
          async () => (await runsOf(committed.id)) > 0,
        );
        expect(await runsOf(committed.id)).toBe(1);
        expect(await outboxIds()).toEqual([]);
        expect((await queue.getResult(committed.id)).returnValue).toBe(6);
      } finally {
        proxy.restore();
      }
    }, 60_000);

    it('runs a task once when its relay left its row behind and its result is pruned: the prune sweeps that row first, however recent', async () => {
      let row!: Record<string, unknown>;
      const held = await queue.transaction(
        async (manager) => {
          const result = await queue
            .task(RedisRecordedTasks, 'record')
            .enqueue(1);
          [row] = await manager.query(`SELECT * FROM ${table}_outbox`);
          return result;
        },
        { dataSource: ds },
      );
      await waitFor(
        'the relay after COMMIT',
        async () => (await outboxIds()).length === 0,
      );
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect(await runsOf(held.id)).toBe(1);
      // The row as a relay that stored the job, then died before deleting it, leaves it.
      const literal = (value: unknown) =>
        value === null ? 'NULL' : `'${String(value).replace(/'/g, "''")}'`;
      await ds.query(
        `INSERT INTO ${table}_outbox (${Object.keys(row).join(', ')}) ` +
          `VALUES (${Object.values(row).map(literal).join(', ')})`,
      );
      // Not due for a worker's sweep for another 10 s (as one just written, or held by a sweep).
      await ds.query(
        `UPDATE ${table}_outbox SET available_at = ${Date.now() + 10_000}`,
      );
      const eightDaysAgo = Date.now() - 8 * 86_400_000;
      await redis.zadd(
        `${prefix}:default:completed`,
        'XX',
        eightDaysAgo,
        held.id,
      );
      await redis.hset(
        `${prefix}:default:${held.id}`,
        'finishedOn',
        eightDaysAgo,
      );

      const pruned = await pruneResults(moduleRef, {
        backend: 'default',
        olderThan: 7 * 86_400_000,
        status: [],
        batchSize: 1000,
      });
      expect(pruned.count).toBe(1);
      expect(await outboxIds()).toEqual([]);
      // What a worker's sweep would find later: nothing to relay.
      await moduleRef.get(TaskOutbox).sweepAll(queue.backend('default'));
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect(await runsOf(held.id)).toBe(1);
      await expect(queue.getResult(held.id)).rejects.toBeInstanceOf(
        TaskResultDoesNotExistError,
      );
    });

    it('prunes nothing when the outbox cannot be swept first, and says why', async () => {
      const [result] = await queue
        .task(RedisRecordedTasks, 'record')
        .enqueueMany([[1]]);
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      const outbox = moduleRef.get(TaskOutbox);
      const sweepAll = outbox.sweepAll;
      outbox.sweepAll = () =>
        Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      try {
        await expect(
          pruneResults(moduleRef, {
            backend: 'default',
            olderThan: 0,
            status: [],
            batchSize: 1000,
          }),
        ).rejects.toThrow(
          /Nothing pruned on backend 'default': its outbox could not be swept first \(connect ECONNREFUSED/,
        );
      } finally {
        outbox.sweepAll = sweepAll;
      }
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
    });

    it('relays each row once when two sweeps take from the outbox at the same time', async () => {
      const total = 250;
      proxy.cut();
      let held!: TaskResult<number>[];
      try {
        held = await inTransaction(() =>
          queue
            .task(RedisRecordedTasks, 'record')
            .enqueueMany(Array.from({ length: total }, (_, i) => [i])),
        );
        // Cut until the relays after COMMIT have failed: the rows are the sweeps'.
        await waitFor(
          'the relays after COMMIT to fail',
          async () => failures().length === total,
          15_000,
        );
      } finally {
        proxy.restore();
      }
      expect(await outboxIds()).toHaveLength(total);
      await waitFor('Redis to answer again', redisAnswers, 15_000);

      const other = await boot();
      const sweeps = [moduleRef, other].map(
        (app) => () =>
          app.get(TaskOutbox).sweep(app.get(TaskQueue).backend('default')),
      );
      let relayed = 0;
      await waitFor(
        'the two sweeps to empty the outbox once its rows are due',
        async () => {
          const counts = await Promise.all(sweeps.map((sweep) => sweep()));
          relayed += counts[0] + counts[1];
          return (await outboxIds()).length === 0;
        },
        30_000,
      );
      expect(relayed).toBe(total);

      expect(await batchWorker(moduleRef, { concurrency: 8 }).run()).toBe(
        'drained',
      );
      const ran = (await runs()).map((run) => run.id).sort();
      expect(ran).toEqual(held.map((result) => result.id).sort());
    }, 60_000);
  });
});
