import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  createTaskMigrations,
  InvalidTaskBackendError,
  Task,
  TaskInterruptedError,
  TaskQueue,
  TaskResultStatus,
  type TaskContext,
} from '../../lib/index.js';
import { DatabaseWorkerQueue } from '../../lib/backends/database/database-worker-queue.js';
import type { WorkerRequest } from '../../lib/worker/worker-factory.service.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

@Injectable()
class ResilienceTasks {
  @Task()
  async small(n: number): Promise<number> {
    return n;
  }

  /** Larger than MariaDB's default max_allowed_packet (16 MB): the database refuses to store it. */
  @Task()
  async huge(): Promise<string> {
    return 'x'.repeat(17 * 1024 * 1024);
  }

  /** Runs until its worker aborts it, then says so. */
  @Task({ takesContext: true })
  async untilAborted(ctx: TaskContext): Promise<void> {
    this.started += 1;
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    this.abortedWith.push(ctx.signal.reason);
  }

  started = 0;
  readonly abortedWith: unknown[] = [];

  @Task({ maxAttempts: 2, retryDelay: () => Number.NaN })
  async nanDelay(): Promise<void> {
    throw new Error('try again');
  }

  @Task({
    maxAttempts: 2,
    retryDelay: () => {
      throw new Error('no delay for you');
    },
  })
  async throwingDelay(): Promise<void> {
    throw new Error('try again');
  }
}

describe.each(availableDatabases())(
  'worker resilience on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_resilience');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    const worker = (options: WorkerRequest = {}) =>
      batchWorker(moduleRef, options);

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        leaseMs: 1000,
        providers: [ResilienceTasks],
      });
      queue = moduleRef.get(TaskQueue);
    });

    afterEach(() => ds.query(`DELETE FROM ${table}`));

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    it('refuses a queue name or a worker id longer than its column before the database sees it', async () => {
      const long = 'q'.repeat(101);
      await expect(
        (async () =>
          queue
            .task(ResilienceTasks, 'small')
            .using({ queueName: long })
            .enqueue(1))(),
      ).rejects.toThrow(/queue name "q+…" is 101 characters long; at most 100/);
      await expect(worker({ workerId: 'w'.repeat(101) }).run()).rejects.toThrow(
        /is 101 characters long; at most 100 are stored. Pass a shorter --worker-id/,
      );
      expect(await ds.query(`SELECT id FROM ${table}`)).toEqual([]);
    });

    it('restarts the in-process worker with backoff when its tables appear after the app started', async () => {
      const late = uniqueTableName('t_late');
      const app = await bootTasksApp({
        dataSource: ds,
        tableName: late,
        leaseMs: 1000,
        providers: [ResilienceTasks],
        extraOptions: { worker: { concurrency: 2 } },
      });
      try {
        const runner = ds.createQueryRunner();
        try {
          for (const Migration of createTaskMigrations(late))
            await new Migration().up(runner);
        } finally {
          await runner.release();
        }
        const result = await app
          .get(TaskQueue)
          .enqueue(ResilienceTasks, 'small', 7);
        await waitFor(
          'the restarted in-process worker to run the task',
          async () => {
            await result.refresh();
            return result.status === TaskResultStatus.SUCCESSFUL;
          },
          15_000,
        );
        expect(result.returnValue).toBe(7);
      } finally {
        await app.close();
        for (const name of [
          `${late}_outbox`,
          `${late}_schedules`,
          `${late}_workers`,
          late,
        ])
          await ds.query(`DROP TABLE IF EXISTS ${name}`);
      }
    }, 30_000);

    it('keeps the in-process worker from claiming on tables behind this version until they are migrated', async () => {
      const behind = uniqueTableName('t_behind');
      const runner = ds.createQueryRunner();
      try {
        for (const Migration of createTaskMigrations(behind))
          await new Migration().up(runner);
      } finally {
        await runner.release();
      }
      const producer = await bootTasksApp({
        dataSource: ds,
        tableName: behind,
        providers: [ResilienceTasks],
      });
      const result = await producer
        .get(TaskQueue)
        .enqueue(ResilienceTasks, 'small', 8);
      await producer.close();
      // As before the migration that added it: a worker claiming here could not record the outcome.
      await ds.query(`ALTER TABLE ${behind} DROP COLUMN cancel_requested_at`);
      const app = await bootTasksApp({
        dataSource: ds,
        tableName: behind,
        leaseMs: 1000,
        providers: [ResilienceTasks],
        extraOptions: { worker: { concurrency: 2 } },
      });
      try {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const [row] = await ds.query(
          `SELECT status, attempts FROM ${behind} WHERE id = '${result.id}'`,
        );
        expect(row.status).toBe(TaskResultStatus.READY);
        expect(Number(row.attempts)).toBe(0);
        await ds.query(
          `ALTER TABLE ${behind} ADD cancel_requested_at BIGINT NULL`,
        );
        await waitFor(
          'the in-process worker to start once the tables are current',
          async () =>
            (await app.get(TaskQueue).getResult(result.id)).status ===
            TaskResultStatus.SUCCESSFUL,
          15_000,
        );
      } finally {
        await app.close();
        for (const name of [
          `${behind}_outbox`,
          `${behind}_schedules`,
          `${behind}_workers`,
          behind,
        ])
          await ds.query(`DROP TABLE IF EXISTS ${name}`);
      }
    }, 30_000);

    // Only MariaDB/MySQL refuse a value this size by default; PostgreSQL and SQLite store it.
    (db.name === 'mariadb' ? it : it.skip)(
      'records an outcome the database refuses as FAILED and goes on with the others',
      async () => {
        const huge = await queue.enqueue(ResilienceTasks, 'huge');
        const smalls = await queue
          .task(ResilienceTasks, 'small')
          .enqueueMany([[1], [2], [3]]);
        expect(await worker({ concurrency: 4 }).run()).toBe('drained');
        await huge.refresh();
        expect(huge.status).toBe(TaskResultStatus.FAILED);
        expect(huge.errors.at(-1)?.message).toContain('could not be stored');
        for (const small of smalls) await small.refresh();
        expect(smalls.map((small) => small.status)).toEqual(
          Array(3).fill(TaskResultStatus.SUCCESSFUL),
        );
      },
      60_000,
    );

    it.each(['nanDelay', 'throwingDelay'] as const)(
      'falls back to the default retry delay when %s gives no usable delay',
      async (method) => {
        const result = await queue.enqueue(ResilienceTasks, method);
        expect(await worker().run()).toBe('drained');
        await result.refresh();
        expect(result.status).toBe(TaskResultStatus.READY);
        expect(result.attempts).toBe(1);
        expect(result.errors.map((error) => error.message)).toEqual([
          'try again',
        ]);
      },
    );

    it('lets a worker take over the id of one that stopped heartbeating, and refuses the id of a live one', async () => {
      const [p1, p2, p3] =
        db.name === 'postgres' ? ['$1', '$2', '$3'] : ['?', '?', '?'];
      await ds.query(
        `INSERT INTO ${table}_workers (id, hostname, pid, queues, concurrency, started_at, heartbeat_at) VALUES (${p1}, 'gone', 1, '[]', 1, ${p2}, ${p3})`,
        ['stable-id', Date.now() - 60_000, Date.now() - 60_000],
      );
      await queue.enqueue(ResilienceTasks, 'small', 1);
      expect(await worker({ workerId: 'stable-id' }).run()).toBe('drained');
      const live = worker({ workerId: 'live-id', batch: false });
      const running = live.run();
      await waitFor(
        'the live worker to register',
        async () =>
          (
            await ds.query(
              `SELECT id FROM ${table}_workers WHERE id = 'live-id'`,
            )
          ).length > 0,
      );
      await expect(worker({ workerId: 'live-id' }).run()).rejects.toThrow(
        InvalidTaskBackendError,
      );
      live.stop();
      expect(await running).toBe('drained');
    });

    it("takes an empty worker queue list as every queue, like a backend's", async () => {
      const result = await queue.enqueue(ResilienceTasks, 'small', 5);
      expect(await worker({ queues: [] }).run()).toBe('drained');
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    });

    it('aborts the signal of running tasks when their worker aborts, and records them interrupted', async () => {
      const tasks = moduleRef.get(ResilienceTasks);
      const result = await queue.enqueue(ResilienceTasks, 'untilAborted');
      const running = worker({ batch: false });
      const done = running.run();
      await waitFor('the task to start', () => tasks.started > 0);
      running.abort();
      expect(await done).toBe('aborted');
      expect(tasks.abortedWith).toHaveLength(1);
      expect(tasks.abortedWith[0]).toBeInstanceOf(TaskInterruptedError);
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.FAILED);
      expect(result.errors[0].errorClass).toBe('TaskInterruptedError');
    });

    it('claims with a worker id and queue names holding quotes and backslashes', async () => {
      const odd = `it's a \\ "queue"`;
      const result = await queue
        .task(ResilienceTasks, 'small')
        .using({ queueName: odd })
        .enqueue(9);
      expect(
        await worker({ workerId: `o'brien \\ "w"`, queues: [odd] }).run(),
      ).toBe('drained');
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.workerIds).toEqual([`o'brien \\ "w"`]);
    });

    it('does not take the tasks of a claim still on its way for orphans, however late it arrives', async () => {
      const results = await queue
        .task(ResilienceTasks, 'small')
        .enqueueMany([[1], [2], [3]]);
      const original = DatabaseWorkerQueue.prototype.claim;
      let delayed = false;
      // The claim commits in the database, then its answer takes longer than a lease to arrive.
      const spy = jest
        .spyOn(DatabaseWorkerQueue.prototype, 'claim')
        .mockImplementation(async function (
          this: DatabaseWorkerQueue,
          ...args
        ) {
          const claimed = await original.apply(this, args);
          if (claimed.length > 0 && !delayed) {
            delayed = true;
            await new Promise((resolve) => setTimeout(resolve, 1600));
          }
          return claimed;
        });
      try {
        expect(await worker().run()).toBe('drained');
      } finally {
        spy.mockRestore();
      }
      for (const result of results) {
        await result.refresh();
        expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
        expect(result.attempts).toBe(1);
      }
    });
  },
);
