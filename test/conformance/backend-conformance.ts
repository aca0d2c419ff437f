/**
 * The backend conformance suite: what every backend that workers consume
 * must do, run unchanged against each (test/database/conformance.e2e-spec.ts
 * on every database, test/bullmq/conformance.e2e-spec.ts on Redis). A
 * harness gives what differs: how to boot the app, reach the store behind
 * the backend's back (strand a task, damage one), and which capabilities
 * the backend lacks, each with the reason its tests are skipped.
 */
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { TestingModule } from '@nestjs/testing';
import { jest } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import type { WorkerQueue } from '../../lib/backends/worker-queue.js';
import {
  InvalidTaskBackendError,
  TaskInterruptedError,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultNotReadyError,
  TaskResultStatus,
  TasksError,
  type TaskResult,
} from '../../lib/index.js';
import {
  ConformanceError,
  ConformanceTasks,
} from '../fixtures/conformance.fixtures.js';
import { batchWorker } from '../support/tasks-app.js';

/** A capability a backend has, or the reason it lacks it (its tests are skipped, saying so). */
export type Capability = true | { absent: string };

/** Which capabilities the backend has: the suite skips the tests of an absent one, with its reason. */
export interface ConformanceCapabilities {
  /** Among equal priorities, a task whose runAfter has passed runs by due time, before later ones. */
  ordersByDueTime: Capability;
  /** Writes enqueues inside the caller's TypeORM transaction (`transaction` runs one). */
  writesInTransactions: Capability;
  /** A worker running while that transaction is open does not see its tasks. */
  isolatesOpenTransactions: Capability;
  /** Has a store that can be missing (tables), which enqueue errors and check() explain (`bootMissingStore`). */
  storeCanBeMissing: Capability;
}

/** What the suite needs of a backend beyond the public API. */
export interface ConformanceHarness {
  /**
   * Boots the app under test: the backend as `default` accepting any
   * queue, a lease of 1000 ms, and the provider `ConformanceTasks`.
   */
  boot(): Promise<TestingModule>;
  /** Boots a second app on the same store through connections of its own (another process's view). */
  bootElsewhere(): Promise<{
    moduleRef: TestingModule;
    close(): Promise<void>;
  }>;
  /** Deletes every stored result and registered worker. */
  reset(): Promise<void>;
  /** How many results the store holds. */
  countStored(): Promise<number>;
  /**
   * Turns the READY result `id` (the only one stored) into one held by a
   * worker 'ghost' that died: RUNNING in attempt 1, its lease long expired.
   */
  strand(id: string): Promise<void>;
  /** Since when (epoch ms) the READY result `id` may be claimed. */
  availableAt(id: string): Promise<number>;
  /**
   * Stores a copy of the result `id` as a new, due, READY one, damaged:
   * of a task named 'Removed.task', or with arguments that are not a JSON
   * array. Returns its id.
   */
  copyDamaged(
    id: string,
    damage: 'unregistered-task' | 'corrupt-args',
  ): Promise<string>;
  /** Closes what the harness opened. */
  close(): Promise<void>;
  /** Runs `work` in a transaction of the store's DataSource. */
  transaction?<T>(work: (manager: EntityManager) => Promise<T>): Promise<T>;
  /** Boots the app on a store that does not exist; `fix` is the advice its errors must contain. */
  bootMissingStore?(): Promise<{ moduleRef: TestingModule; fix: string }>;
}

/** `it`, or a skip that names why when the capability is absent. */
function itWith(capability: Capability) {
  if (capability === true) return it;
  // The backend declares the capability absent: skipped, its reason in the test's name.
  return (name: string, test: () => Promise<void>) =>
    it.skip(`${name} [skipped: ${capability.absent}]`, test);
}

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** Upper bound of every wait in this file; reaching it fails the test. */
const WAIT_LIMIT_MS = 15_000;

/** Waits for `promise`, failing with `what` after WAIT_LIMIT_MS. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out waiting for ${what}`)),
      WAIT_LIMIT_MS,
    );
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Defines the suite `title` over the harness `open()` makes (in `beforeAll`). */
export function describeConformance(
  title: string,
  open: () => ConformanceHarness | Promise<ConformanceHarness>,
  capabilities: ConformanceCapabilities,
): void {
  describe(title, () => {
    let harness: ConformanceHarness;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: ConformanceTasks;

    /** A batch worker over every queue; `run()` resolves 'drained' once nothing is claimable. */
    const newWorker = (concurrency = 4) =>
      batchWorker(moduleRef, { concurrency, intervalMs: 50, queues: ['*'] });

    const drain = async (concurrency = 4) => {
      const worker = newWorker(concurrency);
      await expect(within(worker.run(), 'a batch worker')).resolves.toBe(
        'drained',
      );
      return worker;
    };

    const fresh = <R>(result: TaskResult<R>) => queue.getResult<R>(result.id);

    beforeAll(async () => {
      harness = await open();
      moduleRef = await harness.boot();
      queue = moduleRef.get(TaskQueue);
      tasks = moduleRef.get(ConformanceTasks);
    });

    afterAll(async () => {
      try {
        await moduleRef?.close();
      } finally {
        await harness?.close();
      }
    });

    beforeEach(async () => {
      await harness.reset();
      tasks.reset();
    });

    describe('enqueue', () => {
      it('stores a READY row that a fresh module on another DataSource reads back', async () => {
        const enqueued = await queue
          .task(ConformanceTasks, 'add')
          .using({ priority: 7, queueName: 'reports' })
          .enqueue(2, 3);
        expect(enqueued.status).toBe(READY);

        const other = await harness.bootElsewhere();
        try {
          const read = await other.moduleRef
            .get(TaskQueue)
            .getResult(enqueued.id);
          expect(read.id).toBe(enqueued.id);
          expect(read.task.name).toBe('ConformanceTasks.add');
          expect(read.args).toEqual([2, 3]);
          expect(read.task.priority).toBe(7);
          expect(read.task.queueName).toBe('reports');
          expect(read.backend).toBe('default');
          expect(read.enqueuedAt).toBeInstanceOf(Date);
          expect(read.enqueuedAt!.getTime()).toBe(
            enqueued.enqueuedAt!.getTime(),
          );
          expect(read.status).toBe(READY);
          expect(read.startedAt).toBeNull();
          expect(read.finishedAt).toBeNull();
          expect(read.lastAttemptedAt).toBeNull();
          expect(read.attempts).toBe(0);
          expect(read.workerIds).toEqual([]);
          expect(read.errors).toEqual([]);
          expect(read.isFinished).toBe(false);
          expect(() => read.returnValue).toThrow(TaskResultNotReadyError);
        } finally {
          await other.close();
        }
      });

      it('enqueueMany stores 250 distinct results, all run by a worker', async () => {
        const argsList: [number, number][] = Array.from(
          { length: 250 },
          (_, i) => [i, 1000],
        );
        const results = await queue
          .task(ConformanceTasks, 'add')
          .enqueueMany(argsList);
        expect(results).toHaveLength(250);
        expect(new Set(results.map((r) => r.id)).size).toBe(250);
        expect(await harness.countStored()).toBe(250);

        await drain(10);
        expect(tasks.executed).toHaveLength(250);
        for (const [i, result] of results.entries()) {
          const done = await fresh(result);
          expect(done.status).toBe(SUCCESSFUL);
          expect(done.args).toEqual([i, 1000]);
          expect(done.returnValue).toBe(i + 1000);
          expect(done.attempts).toBe(1);
        }
      });
    });

    describe('worker', () => {
      it('runs a task to SUCCESSFUL and records the attempt', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'add', 20, 22);
        const worker = await drain();
        const done = await fresh(enqueued);
        expect(done.status).toBe(SUCCESSFUL);
        expect(done.returnValue).toBe(42);
        expect(done.attempts).toBe(1);
        expect(done.workerIds).toEqual([worker.workerId]);
        expect(done.errors).toEqual([]);
        expect(done.isFinished).toBe(true);
        expect(done.startedAt).toBeInstanceOf(Date);
        expect(done.finishedAt).toBeInstanceOf(Date);
        expect(done.startedAt!.getTime()).toBeLessThanOrEqual(
          done.finishedAt!.getTime(),
        );
        expect(done.enqueuedAt!.getTime()).toBeLessThanOrEqual(
          done.startedAt!.getTime(),
        );
        // refresh() reloads the enqueued result in place.
        await enqueued.refresh();
        expect(enqueued.status).toBe(SUCCESSFUL);
        expect(enqueued.returnValue).toBe(42);
      });

      it('records a throwing task as FAILED with its error', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'fail', 'nope');
        await drain();
        const done = await fresh(enqueued);
        expect(done.status).toBe(FAILED);
        expect(done.attempts).toBe(1);
        expect(done.finishedAt).toBeInstanceOf(Date);
        expect(done.errors).toHaveLength(1);
        expect(done.errors[0].errorClass).toBe(ConformanceError.name);
        expect(done.errors[0].message).toBe('nope');
        expect(done.errors[0].traceback).toContain('ConformanceError');
        expect(() => done.returnValue).toThrow(TaskResultNotReadyError);
      });

      it('records a task returning a non-JSON value (a Date) as FAILED', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'returnsDate');
        await drain();
        const done = await fresh(enqueued);
        expect(tasks.executed).toEqual(['returnsDate']);
        expect(done.status).toBe(FAILED);
        expect(done.errors).toHaveLength(1);
        expect(done.errors[0].message).toMatch(/returnValue/);
        expect(() => done.returnValue).toThrow(TaskResultNotReadyError);
      });
    });

    describe('ordering', () => {
      // With concurrency 1 each claim takes one row: this checks the claim
      // query's ORDER BY. With concurrency 16 every row is claimed at once and
      // the worker starts them in the order the backend hands them over (the
      // tasks are synchronous, so start order is execution order): a claimed
      // batch must keep the same order.
      it.each([1, 16])(
        'runs by priority (desc), then enqueue order (concurrency %i)',
        async (concurrency) => {
          const record = queue.task(ConformanceTasks, 'record');
          await record.using({ priority: -5 }).enqueue('low');
          await record.enqueue('mid-1');
          await record.using({ priority: 10 }).enqueue('high');
          await record.enqueue('mid-2');
          await record.using({ priority: 100 }).enqueue('top');
          await record.using({ priority: -100 }).enqueue('bottom');
          await record.enqueue('mid-3');
          await record.using({ priority: 10 }).enqueue('high-2');

          await drain(concurrency);
          expect(tasks.executed).toEqual([
            'top',
            'high',
            'high-2',
            'mid-1',
            'mid-2',
            'mid-3',
            'low',
            'bottom',
          ]);
        },
      );

      const byDueTime = (concurrency: number) =>
        `runs by priority (desc), then runAfter, then enqueue order (concurrency ${concurrency})`;
      for (const concurrency of [1, 16])
        itWith(capabilities.ordersByDueTime)(
          byDueTime(concurrency),
          async () => {
            const record = queue.task(ConformanceTasks, 'record');
            const now = Date.now();
            await record.using({ priority: -5 }).enqueue('low');
            await record.enqueue('mid-1');
            await record.using({ priority: 10 }).enqueue('high');
            await record.enqueue('mid-2');
            // Already due, but due earlier than the plain enqueues above.
            await record
              .using({ runAfter: new Date(now - 30_000) })
              .enqueue('mid-due-30s-ago');
            await record
              .using({ runAfter: new Date(now - 60_000) })
              .enqueue('mid-due-60s-ago');
            await record.enqueue('mid-3');
            await record.using({ priority: 10 }).enqueue('high-2');

            await drain(concurrency);
            expect(tasks.executed).toEqual([
              'high',
              'high-2',
              'mid-due-60s-ago',
              'mid-due-30s-ago',
              'mid-1',
              'mid-2',
              'mid-3',
              'low',
            ]);
          },
        );
    });

    describe('deferral', () => {
      it('does not run a task whose runAfter is an hour away', async () => {
        const later = await queue
          .task(ConformanceTasks, 'record')
          .using({ runAfter: new Date(Date.now() + 3_600_000) })
          .enqueue('later');
        await drain();
        const read = await fresh(later);
        expect(read.status).toBe(READY);
        expect(read.attempts).toBe(0);
        expect(read.task.runAfter).toEqual(later.task.runAfter);
        expect(tasks.executed).toEqual([]);
      });

      it('runs a task once its runAfter has come, not before', async () => {
        const runAfter = new Date(Date.now() + 1500);
        const soon = await queue
          .task(ConformanceTasks, 'record')
          .using({ runAfter })
          .enqueue('soon');
        await drain();
        if (Date.now() < runAfter.getTime()) {
          // The worker finished before the task was due, so it must not have run it.
          expect((await fresh(soon)).status).toBe(READY);
          expect(tasks.executed).toEqual([]);
        }
        const deadline = Date.now() + WAIT_LIMIT_MS;
        let read = await fresh(soon);
        while (read.status === READY && Date.now() < deadline) {
          await sleep(100);
          await drain();
          read = await fresh(soon);
        }
        expect(read.status).toBe(SUCCESSFUL);
        expect(read.startedAt!.getTime()).toBeGreaterThanOrEqual(
          runAfter.getTime(),
        );
        expect(tasks.executed).toEqual(['soon']);
      });
    });

    describe('transactions', () => {
      const transaction = <T>(work: (manager: EntityManager) => Promise<T>) =>
        harness.transaction!(work);

      itWith(capabilities.writesInTransactions)(
        'a rolled-back transaction leaves no row',
        async () => {
          let enqueued: TaskResult<number> | undefined;
          await expect(
            transaction(async (manager) => {
              enqueued = await queue
                .task(ConformanceTasks, 'add')
                .using({ transaction: manager })
                .enqueue(1, 1);
              throw new Error('roll back');
            }),
          ).rejects.toThrow('roll back');
          expect(enqueued).toBeDefined();
          await expect(queue.getResult(enqueued!.id)).rejects.toBeInstanceOf(
            TaskResultDoesNotExistError,
          );
          await drain();
          expect(tasks.executed).toEqual([]);
        },
      );

      itWith(capabilities.writesInTransactions)(
        'a committed transaction leaves one READY row that then runs',
        async () => {
          const enqueued = await transaction((manager) =>
            queue
              .task(ConformanceTasks, 'add')
              .using({ transaction: manager })
              .enqueue(2, 2),
          );
          const read = await fresh(enqueued);
          expect(read.status).toBe(READY);
          expect(read.args).toEqual([2, 2]);
          await drain();
          expect((await fresh(enqueued)).returnValue).toBe(4);
        },
      );

      itWith(capabilities.isolatesOpenTransactions)(
        'a worker running while the transaction is open does not see the task',
        async () => {
          const enqueued = await transaction(async (manager) => {
            const result = await queue
              .task(ConformanceTasks, 'add')
              .using({ transaction: manager })
              .enqueue(3, 3);
            await drain();
            expect(tasks.executed).toEqual([]);
            return result;
          });
          expect((await fresh(enqueued)).status).toBe(READY);
          await drain();
          expect(tasks.executed).toEqual(['add(3,3)']);
          expect((await fresh(enqueued)).returnValue).toBe(6);
        },
      );
    });

    describe('damaged rows', () => {
      it('fails a row of an unregistered task and a row with corrupt args, then runs good tasks', async () => {
        const template = await queue
          .task(ConformanceTasks, 'add')
          .using({ runAfter: new Date(Date.now() + 3_600_000) })
          .enqueue(5, 6);
        const unknownId = await harness.copyDamaged(
          template.id,
          'unregistered-task',
        );
        const corruptId = await harness.copyDamaged(
          template.id,
          'corrupt-args',
        );
        const good = await queue.enqueue(ConformanceTasks, 'add', 7, 8);

        await drain();

        const unknown = await queue.getResult(unknownId);
        expect(unknown.status).toBe(FAILED);
        expect(unknown.task.name).toBe('Removed.task');
        expect(unknown.errors).toHaveLength(1);
        expect(unknown.errors[0].message).toMatch(/Removed\.task/);
        expect(unknown.errors[0].message).toMatch(/not registered/);

        const corrupt = await queue.getResult(corruptId);
        expect(corrupt.status).toBe(FAILED);
        expect(corrupt.errors).toHaveLength(1);
        expect(corrupt.errors[0].message).toMatch(/args/);
        expect(corrupt.errors[0].message).toMatch(/JSON/);

        expect((await fresh(good)).status).toBe(SUCCESSFUL);
        expect((await fresh(good)).returnValue).toBe(15);
        expect(tasks.executed).toEqual(['add(7,8)']);
        expect((await fresh(template)).status).toBe(READY);
      });
    });

    describe('cancel', () => {
      it('cancels a READY task, which then never runs', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'add', 4, 4);
        const cancelled = await queue.cancel(enqueued.id);
        expect(cancelled.id).toBe(enqueued.id);
        expect(cancelled.status).toBe(CANCELLED);
        expect(cancelled.isFinished).toBe(true);
        await drain();
        expect(tasks.executed).toEqual([]);
        const read = await fresh(enqueued);
        expect(read.status).toBe(CANCELLED);
        expect(read.attempts).toBe(0);
      });

      it('refuses to cancel a finished task', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'add', 5, 5);
        await drain();
        expect((await fresh(enqueued)).status).toBe(SUCCESSFUL);
        const error = await queue.cancel(enqueued.id).then(
          () => null,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(TasksError);
        expect((error as Error).message).toMatch(/SUCCESSFUL/);
        expect((await fresh(enqueued)).status).toBe(SUCCESSFUL);
      });

      it('cancelling an unknown id throws TaskResultDoesNotExistError', async () => {
        await expect(queue.cancel(randomUUID())).rejects.toBeInstanceOf(
          TaskResultDoesNotExistError,
        );
      });
    });

    describe('retries', () => {
      it('a task with maxAttempts 3 failing twice ends SUCCESSFUL after 3 attempts', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'flaky', 'k');
        const deadline = Date.now() + WAIT_LIMIT_MS;
        let read = await fresh(enqueued);
        const workerIds = new Set<string>();
        while (!read.isFinished && Date.now() < deadline) {
          workerIds.add((await drain()).workerId);
          read = await fresh(enqueued);
        }
        expect(read.status).toBe(SUCCESSFUL);
        expect(read.returnValue).toBe('ok after 3');
        expect(read.attempts).toBe(3);
        expect(read.errors).toHaveLength(2);
        expect(read.errors.map((e) => e.message)).toEqual([
          'flaky k attempt 1',
          'flaky k attempt 2',
        ]);
        expect(read.errors[0].errorClass).toBe('ConformanceError');
        expect(read.workerIds).toHaveLength(3);
        for (const id of read.workerIds) expect(workerIds).toContain(id);
        expect(tasks.executed).toEqual([
          'flaky(k)#1',
          'flaky(k)#2',
          'flaky(k)#3',
        ]);
      });
    });

    describe('progress', () => {
      it('shows progress and metadata of a running task to getResult', async () => {
        const enqueued = await queue.enqueue(
          ConformanceTasks,
          'withProgress',
          'p',
        );
        const worker = newWorker(2);
        const running = worker.run();
        try {
          await within(tasks.gate.reached, 'the task to report progress');
          const read = await fresh(enqueued);
          expect(read.status).toBe(RUNNING);
          expect(read.progress).toBe(0.5);
          expect(read.metadata.step).toBe('half');
          expect(read.attempts).toBe(1);
          expect(read.workerIds).toEqual([worker.workerId]);
          expect(read.isFinished).toBe(false);
          expect(() => read.returnValue).toThrow(TaskResultNotReadyError);
        } finally {
          tasks.gate.release();
          await expect(within(running, 'the worker')).resolves.toBe('drained');
        }
        const done = await fresh(enqueued);
        expect(done.status).toBe(SUCCESSFUL);
        expect(done.returnValue).toBe('p done');
        expect(done.progress).toBe(0.5);
        expect(done.metadata.step).toBe('half');
      });
    });

    describe('rescue', () => {
      const strand = async (id: string) => {
        await harness.strand(id);
        expect((await queue.getResult(id)).status).toBe(RUNNING);
      };

      it('fails a stranded task with TaskInterruptedError when no attempt is left', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'once', 'o');
        await strand(enqueued.id);
        await drain();
        const read = await fresh(enqueued);
        expect(read.status).toBe(FAILED);
        expect(read.attempts).toBe(1);
        expect(read.errors).toHaveLength(1);
        expect(read.errors[0].errorClass).toBe(TaskInterruptedError.name);
        expect(read.errors[0].message).toMatch(/ghost/);
        expect(read.finishedAt).toBeInstanceOf(Date);
        expect(tasks.executed).toEqual([]);
      });

      it('re-queues a stranded task with attempts left after its retryDelay, as a failed attempt would be', async () => {
        const enqueued = await queue.enqueue(
          ConformanceTasks,
          'twiceLater',
          'l',
        );
        await strand(enqueued.id);
        const rescuedFrom = Date.now();
        await drain();
        const read = await fresh(enqueued);
        expect(read.status).toBe(READY);
        expect(read.errors[0].errorClass).toBe(TaskInterruptedError.name);
        expect(tasks.executed).toEqual([]);
        expect(await harness.availableAt(enqueued.id)).toBeGreaterThanOrEqual(
          rescuedFrom + 60_000,
        );
      });

      it('re-queues a stranded task with attempts left, which then runs to SUCCESSFUL', async () => {
        const enqueued = await queue.enqueue(ConformanceTasks, 'twice', 't');
        await strand(enqueued.id);
        const deadline = Date.now() + WAIT_LIMIT_MS;
        let read = await fresh(enqueued);
        let lastWorker = '';
        while (!read.isFinished && Date.now() < deadline) {
          lastWorker = (await drain()).workerId;
          read = await fresh(enqueued);
        }
        expect(read.status).toBe(SUCCESSFUL);
        expect(read.returnValue).toBe('t');
        expect(read.attempts).toBe(2);
        expect(read.errors).toHaveLength(1);
        expect(read.errors[0].errorClass).toBe(TaskInterruptedError.name);
        expect(read.workerIds).toEqual(['ghost', lastWorker]);
        expect(tasks.executed).toEqual(['twice(t)']);
      });
    });

    describe('concurrency and leases', () => {
      it('two workers running at once run every task exactly once', async () => {
        const argsList = Array.from({ length: 120 }, (_, i) => [`c${i}`]);
        const results = await queue
          .task(ConformanceTasks, 'record')
          .enqueueMany(argsList as [string][]);
        const first = newWorker(5);
        const second = newWorker(5);
        await expect(
          within(Promise.all([first.run(), second.run()]), 'two workers'),
        ).resolves.toEqual(['drained', 'drained']);
        expect([...tasks.executed].sort()).toEqual(
          argsList.map(([label]) => label).sort(),
        );
        const workerIds = new Set([first.workerId, second.workerId]);
        for (const result of results) {
          const done = await fresh(result);
          expect(done.status).toBe(SUCCESSFUL);
          expect(done.attempts).toBe(1);
          expect(done.workerIds).toHaveLength(1);
          expect(workerIds).toContain(done.workerIds[0]);
        }
      });

      it('does not rescue a task running longer than the lease while its worker heartbeats', async () => {
        const enqueued = await queue.enqueue(
          ConformanceTasks,
          'withProgress',
          'long',
        );
        const worker = newWorker(1);
        const running = worker.run();
        try {
          await within(tasks.gate.reached, 'the task to start');
          // Hold the task for well over leaseMs (1000), while another
          // worker keeps looking for expired leases.
          const holdUntil = Date.now() + 2500;
          while (Date.now() < holdUntil) {
            await drain(1);
            await sleep(200);
          }
          const read = await fresh(enqueued);
          expect(read.status).toBe(RUNNING);
          expect(read.errors).toEqual([]);
          expect(read.workerIds).toEqual([worker.workerId]);
        } finally {
          tasks.gate.release();
          await expect(within(running, 'the worker')).resolves.toBe('drained');
        }
        const done = await fresh(enqueued);
        expect(done.status).toBe(SUCCESSFUL);
        expect(done.attempts).toBe(1);
        expect(done.errors).toEqual([]);
        expect(tasks.executed).toEqual(['withProgress(long)']);
      });
    });

    describe('prefetch', () => {
      /** Each READY result as before any claim: no attempt, no worker, no start. */
      const untouched = (read: TaskResult<unknown>) =>
        read.status === READY &&
        read.attempts === 0 &&
        read.workerIds.length === 0 &&
        read.startedAt === null &&
        read.lastAttemptedAt === null;

      it('claims beyond its free slots for quick tasks, and a stop mid-drain leaves each task done once or untouched', async () => {
        const workers = queue.backend().workerQueue()!;
        const claim = Object.getPrototypeOf(workers) as WorkerQueue;
        const limits: number[] = [];
        const original = claim.claim;
        const spy = jest.spyOn(claim, 'claim').mockImplementation(function (
          this: WorkerQueue,
          ...args
        ) {
          limits.push(args[2]);
          return original.apply(this, args);
        });
        const labels = Array.from({ length: 600 }, (_, i) => [`p${i}`]);
        const results = await queue
          .task(ConformanceTasks, 'record')
          .enqueueMany(labels as [string][]);
        const worker = batchWorker(moduleRef, {
          batch: false,
          concurrency: 2,
          prefetch: 6,
          intervalMs: 50,
          queues: ['*'],
        });
        // Stopped from inside, mid-drain, whatever the store's speed.
        tasks.onRecord = (ran) => {
          if (ran === 150) worker.stop();
        };
        try {
          await expect(within(worker.run(), 'the worker')).resolves.toBe(
            'drained',
          );
        } finally {
          spy.mockRestore();
        }
        // The first claim has nothing measured: only the free slots.
        expect(limits[0]).toBe(2);
        expect(Math.max(...limits)).toBeGreaterThan(2);
        expect(Math.max(...limits)).toBeLessThanOrEqual(2 + 6);
        const reads = await Promise.all(results.map(fresh));
        const done = reads.filter(
          (read) => read.status === SUCCESSFUL && read.attempts === 1,
        );
        expect(done.length + reads.filter(untouched).length).toBe(600);
        expect(reads.filter(untouched).length).toBeGreaterThan(0);
        expect(new Set(tasks.executed).size).toBe(tasks.executed.length);
        expect(tasks.executed).toHaveLength(done.length);
      });

      it('hands back claimed tasks as they were, one whose cancel was requested meanwhile ending CANCELLED', async () => {
        const workers = queue.backend().workerQueue()!;
        const [kept, cancelled] = await queue
          .task(ConformanceTasks, 'record')
          .enqueueMany([['kept'], ['cancelled']]);
        await workers.registerWorker({
          workerId: 'w-handback',
          concurrency: 2,
          queues: null,
        });
        try {
          const claimed = await workers.claim('w-handback', null, 2);
          expect(claimed.map((task) => task.result.id).sort()).toEqual(
            [kept.id, cancelled.id].sort(),
          );
          expect((await fresh(kept)).status).toBe(RUNNING);
          await queue.cancel(cancelled.id);
          await workers.release!(
            'w-handback',
            claimed.map(({ result }) => ({
              id: result.id,
              attempt: result.attempts,
            })),
          );
        } finally {
          await workers.unregisterWorker('w-handback');
        }
        expect(untouched(await fresh(kept))).toBe(true);
        const ended = await fresh(cancelled);
        expect(ended.status).toBe(CANCELLED);
        expect(ended.finishedAt).not.toBeNull();
        await drain();
        expect(tasks.executed).toEqual(['kept']);
        expect((await fresh(cancelled)).status).toBe(CANCELLED);
      });
    });

    describe('a missing store', () => {
      itWith(capabilities.storeCanBeMissing)(
        'enqueue errors explain it, naming the fix',
        async () => {
          const missing = await harness.bootMissingStore!();
          try {
            const missingQueue = missing.moduleRef.get(TaskQueue);
            const enqueue = missingQueue.enqueue(
              ConformanceTasks,
              'record',
              'x',
            );
            await expect(enqueue).rejects.toThrow(InvalidTaskBackendError);
            await expect(
              missingQueue.enqueue(ConformanceTasks, 'record', 'x'),
            ).rejects.toThrow(missing.fix);
          } finally {
            await missing.moduleRef.close();
          }
        },
      );

      itWith(capabilities.storeCanBeMissing)(
        'check() reports it, naming the fix',
        async () => {
          const missing = await harness.bootMissingStore!();
          try {
            const messages = await missing.moduleRef
              .get(TaskQueue)
              .backend()
              .check();
            expect(messages).toHaveLength(1);
            expect(messages[0].level).toBe('error');
            expect(messages[0].message).toContain(missing.fix);
          } finally {
            await missing.moduleRef.close();
          }
        },
      );
    });

    describe('check()', () => {
      it('reports nothing on a store in order', async () => {
        await expect(queue.backend().check()).resolves.toEqual([]);
      });
    });
  });
}
