import { jest } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { DatabaseWorkerQueue } from '../../lib/backends/database/database-worker-queue.js';
import {
  Task,
  TaskQueue,
  TaskResultStatus,
  type TaskResult,
} from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

/** Tasks that wait for the test to let them finish. */
@Injectable()
class GatedTasks {
  readonly ran: number[] = [];
  private gate!: Promise<void>;
  private open!: () => void;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.ran.length = 0;
    this.onQuick = () => {};
    this.gate = new Promise<void>((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open();
  }

  /** Called by each quick task. */
  onQuick: (n: number) => void = () => {};

  @Task()
  async quick(n: number): Promise<number> {
    this.onQuick(n);
    return n;
  }

  @Task()
  async gated(n: number): Promise<number> {
    this.ran.push(n);
    await this.gate;
    return n;
  }
}

describe.each(availableDatabases())(
  'prefetched tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_prefetch');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: GatedTasks;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        leaseMs: 1000,
        providers: [GatedTasks],
      });
      queue = moduleRef.get(TaskQueue);
    });

    beforeEach(() => {
      tasks = moduleRef.get(GatedTasks);
      tasks.reset();
    });

    afterEach(() => ds.query(`DELETE FROM ${table}`));

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    const enqueue = (count: number) =>
      queue
        .task(GatedTasks, 'gated')
        .enqueueMany(Array.from({ length: count }, (_, i) => [i]));

    /** Runs quick tasks on `worker` until its prefetch gauge has measured tasks and claims. */
    const warmUp = async (done: () => Promise<number>) => {
      await queue
        .task(GatedTasks, 'quick')
        .enqueueMany(Array.from({ length: 30 }, (_, i) => [i]));
      await waitFor(
        'the quick tasks to finish',
        async () => (await done()) === 30,
      );
    };

    const count = async (where: string) => {
      const [{ n }] = await ds.query(
        `SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`,
      );
      return Number(n);
    };

    const refreshAll = async (results: TaskResult<number>[]) => {
      for (const result of results) await result.refresh();
      return results;
    };

    it('claims beyond its free slots for short tasks, and a stop leaves each task done once or untouched', async () => {
      tasks.release();
      const limits: number[] = [];
      const original = DatabaseWorkerQueue.prototype.claim;
      const spy = jest
        .spyOn(DatabaseWorkerQueue.prototype, 'claim')
        .mockImplementation(function (this: DatabaseWorkerQueue, ...args) {
          limits.push(args[2]);
          return original.apply(this, args);
        });
      try {
        await queue
          .task(GatedTasks, 'quick')
          .enqueueMany(Array.from({ length: 2000 }, (_, i) => [i]));
        const worker = batchWorker(moduleRef, {
          batch: false,
          concurrency: 2,
          prefetch: 6,
        });
        // Stopped from inside, mid-drain, whatever the database's speed.
        tasks.onQuick = (n) => {
          if (n === 100) worker.stop();
        };
        expect(await worker.run()).toBe('drained');
      } finally {
        spy.mockRestore();
      }
      // The first claim has nothing measured: only the free slots.
      expect(limits[0]).toBe(2);
      expect(Math.max(...limits)).toBeGreaterThan(2);
      expect(Math.max(...limits)).toBeLessThanOrEqual(2 + 6);
      const done = await count(`status = 'SUCCESSFUL' AND attempts = 1`);
      const untouched = await count(
        `status = 'READY' AND attempts = 0 AND started_at IS NULL AND last_attempted_at IS NULL ` +
          `AND worker_id IS NULL AND lease_expires_at IS NULL AND worker_ids = '[]'`,
      );
      expect(done + untouched).toBe(2000);
      expect(untouched).toBeGreaterThan(0);
    });

    it('hands back tasks kept waiting behind tasks that run long, and an idle worker takes them', async () => {
      const busy = batchWorker(moduleRef, {
        batch: false,
        concurrency: 2,
        workerId: 'busy',
      });
      const busyRun = busy.run();
      await warmUp(() => count(`status = 'SUCCESSFUL'`));
      await enqueue(4);
      await waitFor('two tasks to start', async () => tasks.ran.length === 2);
      const idle = batchWorker(moduleRef, {
        batch: false,
        concurrency: 2,
        workerId: 'idle',
      });
      const idleRun = idle.run();
      await waitFor(
        'the idle worker to take the other two',
        async () => tasks.ran.length === 4,
      );
      const holders = await ds.query(
        `SELECT worker_id FROM ${table} WHERE status = 'RUNNING' ORDER BY worker_id`,
      );
      expect(
        holders.map((row: { worker_id: string }) => row.worker_id),
      ).toEqual(['busy', 'busy', 'idle', 'idle']);
      busy.stop();
      idle.stop();
      tasks.release();
      await Promise.all([busyRun, idleRun]);
      expect(await count(`status = 'SUCCESSFUL'`)).toBe(34);
      expect(await count(`attempts <> 1`)).toBe(0);
    });

    it('keeps within --max-tasks: what it claims counts against the limit', async () => {
      tasks.release();
      const results = await enqueue(10);
      const worker = batchWorker(moduleRef, {
        concurrency: 2,
        prefetch: 10,
        maxTasks: 3,
      });
      const run = worker.run();
      await waitFor(
        'three tasks to finish',
        async () => (await count(`status = 'SUCCESSFUL'`)) === 3,
      );
      worker.stop();
      await run;
      await refreshAll(results);
      expect(tasks.ran).toHaveLength(3);
      expect(
        results.filter((result) => result.status === TaskResultStatus.READY),
      ).toHaveLength(7);
      expect(results.every((result) => result.attempts <= 1)).toBe(true);
    });

    it('with prefetch 0 claims only what it can start', async () => {
      const results = await enqueue(5);
      const worker = batchWorker(moduleRef, {
        batch: false,
        concurrency: 2,
        prefetch: 0,
      });
      const run = worker.run();
      await waitFor('two tasks to start', async () => tasks.ran.length === 2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await count(`status = 'RUNNING'`)).toBe(2);
      worker.stop();
      tasks.release();
      await run;
      await refreshAll(results);
      expect(
        results.filter((result) => result.status === TaskResultStatus.READY),
      ).toHaveLength(3);
    });
  },
);
