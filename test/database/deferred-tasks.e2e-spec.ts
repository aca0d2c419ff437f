import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  Task,
  TaskContext,
  TaskQueue,
  TaskResultStatus,
  type BackendAdmin,
  type TaskResult,
} from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { Workers } from '../support/faults.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

const { READY, SUCCESSFUL, CANCELLED } = TaskResultStatus;

const HOUR = 3_600_000;
/** Longer than any wait of this file: a worker polling this seldom finds deferred tasks only by its timer or a wake-up. */
const SELDOM_MS = 600_000;

@Injectable()
class DeferredTasks {
  /** Labels in the order their attempts started. */
  readonly started: string[] = [];

  @Task()
  record(label: string): string {
    this.started.push(label);
    return label;
  }

  @Task({ unique: { key: (account: string) => account } })
  rebuild(account: string): string {
    this.started.push(`rebuild(${account})`);
    return account;
  }

  /** Fails its first attempt; the retry is due 300 ms later. */
  @Task({ maxAttempts: 2, retryDelay: 300, takesContext: true })
  failOnce(ctx: TaskContext, label: string): string {
    this.started.push(`failOnce(${label})#${ctx.attempt}`);
    if (ctx.attempt === 1) throw new Error('once');
    return label;
  }
}

/**
 * Deferred tasks on each database: stored SCHEDULED, out of the claim
 * index, yet READY to every reader (results, counts, filters, cancel,
 * unique keys, the health check's waiting time), and promoted, then run in
 * priority order, once due, by workers that poll seldom: a worker's timer
 * set to the first due time it knows of, told by the enqueue (in this
 * process, or by NOTIFY on PostgreSQL) or by its own retry.
 */
describe.each(availableDatabases())(
  'deferred tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_deferred');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let admin: BackendAdmin;
    let tasks: DeferredTasks;
    const workers = new Workers();

    const storedStatus = async (id: string): Promise<string> => {
      const [row] = await ds.query(
        `SELECT status FROM ${table} WHERE id = '${id}'`,
      );
      return String(row.status);
    };

    const finished = (results: TaskResult<unknown>[]) =>
      waitFor('the deferred tasks to run', async () => {
        for (const result of results) await result.refresh();
        return results.every((result) => result.status === SUCCESSFUL);
      });

    /** Promotion calls answered so far, by the workers of this app. */
    let promotions = 0;

    /** A worker that polls seldom, once the first promotion of its own has read the store. */
    const seldomWorker = async () => {
      const before = promotions;
      const started = workers.start(moduleRef, {
        intervalMs: SELDOM_MS,
        concurrency: 1,
      });
      await waitFor('the first promotion', () => promotions > before);
      return started;
    };

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [DeferredTasks],
      });
      queue = moduleRef.get(TaskQueue);
      admin = queue.backend().admin()!;
      tasks = moduleRef.get(DeferredTasks);
      const workerQueue = queue.backend().workerQueue()!;
      const promoteDue = workerQueue.promoteDue!.bind(workerQueue);
      workerQueue.promoteDue = async (limit) => {
        const answer = await promoteDue(limit);
        promotions++;
        return answer;
      };
    });

    afterEach(async () => {
      await workers.abortAll();
      await ds.query(`DELETE FROM ${table}`);
      tasks.started.length = 0;
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    it('stores a deferred task SCHEDULED and shows it READY everywhere', async () => {
      const runAfter = new Date(Date.now() + HOUR);
      const later = await queue
        .task(DeferredTasks, 'record')
        .using({ runAfter })
        .enqueue('later');
      const unique = await queue
        .task(DeferredTasks, 'rebuild')
        .using({ runAfter })
        .enqueue('acme');
      expect(await storedStatus(later.id)).toBe('SCHEDULED');
      expect(await storedStatus(unique.id)).toBe('SCHEDULED');

      expect((await queue.getResult(later.id)).status).toBe(READY);
      expect((await admin.status()).counts).toEqual([
        expect.objectContaining({ queue: 'default', status: READY, count: 2 }),
      ]);
      const listed = await admin.results!.list({ status: READY, limit: 10 });
      expect(
        listed.results.map((result) => [result.id, result.status]),
      ).toEqual([
        [unique.id, READY],
        [later.id, READY],
      ]);
      // Not due: nothing has waited yet.
      expect(await admin.oldestDueReady()).toBeNull();

      // A deferred result holds its unique key until it is cancelled.
      const again = await queue.enqueue(DeferredTasks, 'rebuild', 'acme');
      expect(again.id).toBe(unique.id);
      expect(again.status).toBe(READY);
      const cancelled = await queue.cancel(unique.id);
      expect(cancelled.status).toBe(CANCELLED);
      const next = await queue.enqueue(DeferredTasks, 'rebuild', 'acme');
      expect(next.id).not.toBe(unique.id);

      expect(
        await admin.results!.cancelMatching({
          status: READY,
          taskName: later.task.name,
        }),
      ).toBe(1);
      expect((await queue.getResult(later.id)).status).toBe(CANCELLED);
    });

    it('counts a deferred task that fell due and waits for a worker as waiting since its time', async () => {
      const runAfter = new Date(Date.now() + 200);
      const soon = await queue
        .task(DeferredTasks, 'record')
        .using({ runAfter })
        .enqueue('soon');
      await waitFor(
        'the task to fall due',
        () => Date.now() > runAfter.getTime(),
      );
      expect(await storedStatus(soon.id)).toBe('SCHEDULED');
      expect(await admin.oldestDueReady()).toEqual(runAfter);
    });

    it('runs deferred tasks once due, highest priority first, told by the enqueue', async () => {
      await seldomWorker();
      const runAfter = new Date(Date.now() + 1000);
      const record = queue.task(DeferredTasks, 'record').using({ runAfter });
      const enqueued = [
        await record.using({ priority: 1 }).enqueue('low'),
        await record.using({ priority: 10 }).enqueue('high'),
        await record.using({ priority: 5 }).enqueue('mid'),
      ];
      await finished(enqueued);
      expect(tasks.started).toEqual(['high', 'mid', 'low']);
      for (const result of enqueued)
        expect(result.startedAt!.getTime()).toBeGreaterThanOrEqual(
          runAfter.getTime(),
        );
    });

    it('runs deferred tasks stored before the worker started once due, by the due time its first pass read', async () => {
      const runAfter = new Date(Date.now() + 1500);
      const enqueued = await queue
        .task(DeferredTasks, 'record')
        .using({ runAfter })
        .enqueue('stored');
      await seldomWorker();
      await finished([enqueued]);
      expect(enqueued.startedAt!.getTime()).toBeGreaterThanOrEqual(
        runAfter.getTime(),
      );
    });

    it('retries a failed attempt after its delay, the retry SCHEDULED meanwhile', async () => {
      await seldomWorker();
      const enqueued = await queue.enqueue(DeferredTasks, 'failOnce', 'r');
      await waitFor('the first attempt to fail', async () => {
        await enqueued.refresh();
        return enqueued.errors.length === 1;
      });
      const failedAt = enqueued.lastAttemptedAt!.getTime();
      await finished([enqueued]);
      expect(enqueued.attempts).toBe(2);
      expect(tasks.started).toEqual(['failOnce(r)#1', 'failOnce(r)#2']);
      expect(enqueued.lastAttemptedAt!.getTime()).toBeGreaterThanOrEqual(
        failedAt + 300,
      );
    });

    (db.name === 'postgres' ? it : it.skip)(
      `hears of a deferred task enqueued by another process, and runs it once due${
        db.name === 'postgres'
          ? ''
          : ' [skipped: only PostgreSQL notifies; elsewhere the polling pass finds it]'
      }`,
      async () => {
        await seldomWorker();
        const otherDs = await connectTestDataSource(db, table);
        const other = await bootTasksApp({
          dataSource: otherDs,
          tableName: table,
          providers: [DeferredTasks],
        });
        try {
          const runAfter = new Date(Date.now() + 1000);
          const enqueued = await other
            .get(TaskQueue)
            .task(DeferredTasks, 'record')
            .using({ runAfter })
            .enqueue('elsewhere');
          const here = await queue.getResult(enqueued.id);
          await finished([here]);
          expect(tasks.started).toEqual(['elsewhere']);
          expect(here.startedAt!.getTime()).toBeGreaterThanOrEqual(
            runAfter.getTime(),
          );
        } finally {
          await other.close();
          await otherDs.destroy();
        }
      },
    );
  },
);
