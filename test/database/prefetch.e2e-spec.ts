import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
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
