import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import {
  attemptFailed,
  attemptSucceeded,
  InvalidTaskError,
  OnTaskEvent,
  Task,
  TaskCancelledError,
  TaskInterruptedError,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultNotReadyError,
  TaskResultStatus,
  type AttemptRecord,
  type AttemptVerdict,
  type ClaimedTask,
  type CompletionReport,
  type HeartbeatReport,
  type TaskContext,
  type TaskEvent,
  type TaskResult,
  type WorkerQueue,
} from '../../lib/index.js';
import { toErrorRecord } from '../../lib/task/task-error-record.js';
import { Gate } from '../fixtures/conformance.fixtures.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** Resolves when `signal` aborts, rejecting with its reason as a task that honours it would. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), {
      once: true,
    });
  });

/** Tasks with attempts to spare, so that a retry would show. */
@Injectable()
class CancelTasks {
  static effects = 'effects';
  gate = new Gate();
  /** Labels of started attempts. */
  readonly started: string[] = [];
  /** The reason each aborted signal carried, by result id. */
  readonly aborted = new Map<string, unknown>();

  reset(): void {
    this.started.length = 0;
    this.aborted.clear();
    this.gate.release();
    this.gate = new Gate();
  }

  private watch(ctx: TaskContext, label: string): void {
    this.started.push(`${label}#${ctx.attempt}`);
    ctx.signal.addEventListener('abort', () =>
      this.aborted.set(ctx.taskResult.id, ctx.signal.reason),
    );
  }

  /** Stops when its signal aborts, throwing the reason. */
  @Task({ takesContext: true, maxAttempts: 3, retryDelay: 0 })
  async honours(ctx: TaskContext): Promise<string> {
    this.watch(ctx, 'honours');
    return untilAborted(ctx.signal);
  }

  /** Ignores its signal: returns once the gate opens. */
  @Task({ takesContext: true, maxAttempts: 3, retryDelay: 0 })
  async ignores(ctx: TaskContext): Promise<string> {
    this.watch(ctx, 'ignores');
    await this.gate.opened;
    return 'done anyway';
  }

  /** Writes through its attempt's transaction, then ignores its signal until the gate opens. */
  @Task({
    takesContext: true,
    transactional: true,
    maxAttempts: 3,
    retryDelay: 0,
  })
  async writes(ctx: TaskContext): Promise<string> {
    this.watch(ctx, 'writes');
    const placeholder =
      ctx.manager!.connection.driver.options.type === 'postgres' ? '$1' : '?';
    await ctx.manager!.query(
      `INSERT INTO ${CancelTasks.effects} (result_id) VALUES (${placeholder})`,
      [ctx.taskResult.id],
    );
    await this.gate.opened;
    return 'written';
  }

  @Task({ maxAttempts: 3, retryDelay: 0 })
  plain(n: number): number {
    this.started.push(`plain#${n}`);
    return n;
  }
}

/** The `finished` events of the application, in order. */
@Injectable()
class FinishedEvents {
  readonly seen: { id: string; status: TaskResultStatus }[] = [];

  @OnTaskEvent('finished')
  onFinished({ result }: TaskEvent): void {
    this.seen.push({ id: result.id, status: result.status });
  }
}

/** A DatabaseBackend's answer to `complete()`, in its richer form. */
const report = (answer: string[] | CompletionReport) =>
  answer as CompletionReport;

describe.each(availableDatabases())(
  'cancelling running tasks on $name',
  (db: TestDatabase) => {
    const tableName = uniqueTableName('t_cancel');
    const effects = `${tableName}_effects`;
    let ds: DataSource;
    let otherDs: DataSource;
    /** Runs the tasks; its heartbeat comes every third of a 900 ms lease. */
    let app: TestingModule;
    /** Another application on the same tables: a cancel made there reaches the worker only through the store. */
    let other: TestingModule;
    let queue: TaskQueue;
    let tasks: CancelTasks;
    let events: FinishedEvents;
    let workerQueue: WorkerQueue;

    const boot = (dataSource: DataSource, leaseMs: number) =>
      bootTasksApp({
        dataSource,
        tableName,
        leaseMs,
        providers: [CancelTasks, FinishedEvents],
      });

    /** Runs SQL written with `:1`, `:2`… placeholders, spelled for this database. */
    const sql = (text: string, params: unknown[] = []) =>
      ds.query(
        text.replace(/:(\d+)/g, (_, n: string) =>
          db.name === 'postgres' ? `$${n}` : '?',
        ),
        params,
      );
    const rowOf = async (id: string) =>
      (await sql(`SELECT * FROM ${tableName} WHERE id = :1`, [id]))[0];
    const fresh = (result: { id: string }) => queue.getResult(result.id);

    /** A batch worker of `module`, running until nothing is left. */
    const runWorker = (module: TestingModule) =>
      batchWorker(module, { concurrency: 2, intervalMs: 20 }).run();

    /** Claims the READY task `id` as `workerId` would, through the store. */
    const claim = async (id: string, workerId: string) => {
      const claimed = await workerQueue.claim(workerId, null, 10);
      const task = claimed.find((candidate) => candidate.result.id === id);
      expect(task).toBeDefined();
      return task as ClaimedTask;
    };
    const recordOf = (
      verdict: AttemptVerdict,
      workerId: string,
      result: TaskResult,
    ): AttemptRecord => ({ ...verdict, workerId, attempt: result.attempts });

    beforeAll(async () => {
      ds = await openTestDataSource(db, tableName);
      await ds.query(
        `CREATE TABLE ${effects} (result_id VARCHAR(36) NOT NULL)`,
      );
      CancelTasks.effects = effects;
      app = await boot(ds, 900);
      otherDs = await connectTestDataSource(db, tableName);
      other = await boot(otherDs, 900);
      queue = app.get(TaskQueue);
      tasks = app.get(CancelTasks);
      events = app.get(FinishedEvents);
      workerQueue = queue.backend().workerQueue()!;
    });

    afterAll(async () => {
      try {
        await app?.close();
        await other?.close();
        if (otherDs?.isInitialized) await otherDs.destroy();
        await ds?.query(`DROP TABLE IF EXISTS ${effects}`);
      } finally {
        await closeTestDataSource(db, ds, tableName);
      }
    });

    beforeEach(async () => {
      await ds.query(`DELETE FROM ${tableName}`);
      await ds.query(`DELETE FROM ${effects}`);
      tasks.reset();
      events.seen.length = 0;
    });

    describe('a running task', () => {
      it('cancelled from another application: its worker learns it at a heartbeat, aborts its signal with TaskCancelledError, and it ends CANCELLED, never retried', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'honours');
        const worker = runWorker(app);
        await waitFor('the task to start', () => tasks.started.length === 1);

        const answer = await other.get(TaskQueue).cancel(enqueued.id);
        expect(answer.id).toBe(enqueued.id);
        expect(answer.status).toBe(RUNNING);

        await expect(worker).resolves.toBe('drained');
        const reason = tasks.aborted.get(enqueued.id);
        expect(reason).toBeInstanceOf(TaskCancelledError);
        expect((reason as Error).message).toContain(enqueued.id);
        expect((reason as Error).message).toContain('CancelTasks.honours');
        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.isFinished).toBe(true);
        expect(done.finishedAt).toBeInstanceOf(Date);
        expect(done.attempts).toBe(1);
        expect(done.errors.map((error) => error.errorClass)).toEqual([
          TaskCancelledError.name,
        ]);
        expect(tasks.started).toEqual(['honours#1']);
        expect(events.seen).toEqual([{ id: enqueued.id, status: CANCELLED }]);
      });

      it('that ignores its signal still ends, and is recorded CANCELLED without the value it returned', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'ignores');
        const worker = runWorker(app);
        await waitFor('the task to start', () => tasks.started.length === 1);
        await other.get(TaskQueue).cancel(enqueued.id);
        await waitFor('the signal to abort', () =>
          tasks.aborted.has(enqueued.id),
        );
        tasks.gate.release();

        await expect(worker).resolves.toBe('drained');
        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.errors).toEqual([]);
        expect(() => done.returnValue).toThrow(TaskResultNotReadyError);
        expect((await rowOf(enqueued.id)).return_value).toBeNull();
        expect(tasks.started).toEqual(['ignores#1']);
      });

      it('cancelled in the process that runs it is aborted at once, not at the next heartbeat', async () => {
        // A lease of a minute: the worker's next heartbeat is 20 s away.
        const local = await boot(ds, 60_000);
        try {
          const localTasks = local.get(CancelTasks);
          const localQueue = local.get(TaskQueue);
          const enqueued = await localQueue.enqueue(CancelTasks, 'honours');
          const worker = runWorker(local);
          await waitFor(
            'the task to start',
            () => localTasks.started.length === 1,
          );
          await localQueue.cancel(enqueued.id);
          await waitFor(
            'the signal to abort',
            () => localTasks.aborted.has(enqueued.id),
            5000,
          );
          expect(localTasks.aborted.get(enqueued.id)).toBeInstanceOf(
            TaskCancelledError,
          );
          await expect(worker).resolves.toBe('drained');
          expect((await fresh(enqueued)).status).toBe(CANCELLED);
        } finally {
          await local.close();
        }
      });

      it('cancelled again while it runs is returned RUNNING again, and heartbeats report it to its worker', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 1);
        const untouched = await queue.enqueue(CancelTasks, 'plain', 2);
        const held = (await workerQueue.claim('w-heartbeat', null, 10)).map(
          ({ result }) => ({ id: result.id, attempt: result.attempts }),
        );
        expect(held.map((task) => task.id).sort()).toEqual(
          [enqueued.id, untouched.id].sort(),
        );
        expect(
          (await workerQueue.heartbeat('w-heartbeat', held)) as HeartbeatReport,
        ).toEqual({ lost: [], cancelled: [] });

        expect((await queue.cancel(enqueued.id)).status).toBe(RUNNING);
        expect((await queue.cancel(enqueued.id)).status).toBe(RUNNING);
        expect(
          (await workerQueue.heartbeat('w-heartbeat', held)) as HeartbeatReport,
        ).toEqual({ lost: [], cancelled: [enqueued.id] });
        // Another worker's heartbeat does not hold it: lost to that one, not cancelled.
        expect(
          (await workerQueue.heartbeat('w-else', held)) as HeartbeatReport,
        ).toEqual({
          lost: held.map((task) => task.id),
          cancelled: [],
        });
      });
    });

    describe('the attempt of a cancelled task ends CANCELLED however it is written', () => {
      it('an outcome written after a cancel the worker never heard of: a retry becomes CANCELLED, never READY again', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 3);
        const { result } = await claim(enqueued.id, 'w-race');
        expect((await queue.cancel(enqueued.id)).status).toBe(RUNNING);

        const retry = attemptFailed(result, toErrorRecord(new Error('boom')));
        expect(retry.data.status).toBe(READY);
        expect(
          report(
            await workerQueue.complete([recordOf(retry, 'w-race', result)]),
          ),
        ).toEqual({ written: [enqueued.id], cancelled: [enqueued.id] });

        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.finishedAt).toBeInstanceOf(Date);
        expect(done.errors.map((error) => error.message)).toEqual(['boom']);
        expect(await workerQueue.claim('w-race', null, 10)).toEqual([]);
      });

      it('a success written after the cancel: CANCELLED, its return value dropped', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 4);
        const { result } = await claim(enqueued.id, 'w-race');
        await queue.cancel(enqueued.id);
        const success = attemptSucceeded(result, 4);
        const untouched = await queue.enqueue(CancelTasks, 'plain', 5);
        const second = (await claim(untouched.id, 'w-race')).result;

        // In one batch with an outcome whose task was not cancelled, which is written as it is.
        expect(
          report(
            await workerQueue.complete([
              recordOf(success, 'w-race', result),
              recordOf(attemptSucceeded(second, 5), 'w-race', second),
            ]),
          ),
        ).toEqual({
          written: expect.arrayContaining([enqueued.id, untouched.id]),
          cancelled: [enqueued.id],
        });
        expect((await fresh(enqueued)).status).toBe(CANCELLED);
        expect((await rowOf(enqueued.id)).return_value).toBeNull();
        expect((await fresh(untouched)).status).toBe(SUCCESSFUL);
        expect((await fresh(untouched)).returnValue).toBe(5);
      });

      it('a claimed task handed back before it started: CANCELLED, the claim uncounted', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 6);
        const { result } = await claim(enqueued.id, 'w-release');
        await queue.cancel(enqueued.id);
        await workerQueue.release!('w-release', [
          { id: result.id, attempt: result.attempts },
        ]);
        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.finishedAt).toBeInstanceOf(Date);
        expect(done.attempts).toBe(0);
        expect(done.startedAt).toBeNull();
        expect(await workerQueue.claim('w-release', null, 10)).toEqual([]);
      });

      it('a task whose worker died is rescued CANCELLED, not retried', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 7);
        await claim(enqueued.id, 'w-ghost');
        // The worker is gone (it never registered, holds no session) and its lease ran out.
        await sql(
          `UPDATE ${tableName} SET lease_expires_at = :1 WHERE id = :2`,
          [Date.now() - 60_000, enqueued.id],
        );
        expect((await queue.cancel(enqueued.id)).status).toBe(RUNNING);

        expect(await workerQueue.rescueExpired('w-rescuer')).toBe(1);
        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.attempts).toBe(1);
        expect(done.errors.map((error) => error.errorClass)).toEqual([
          TaskInterruptedError.name,
        ]);
        expect(events.seen).toEqual([{ id: enqueued.id, status: CANCELLED }]);
        expect(await workerQueue.claim('w-rescuer', null, 10)).toEqual([]);
      });

      it('a task its own worker no longer runs is handed back CANCELLED by that worker', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'plain', 8);
        await claim(enqueued.id, 'w-orphans');
        await sql(
          `UPDATE ${tableName} SET lease_expires_at = :1 WHERE id = :2`,
          [Date.now() - 60_000, enqueued.id],
        );
        await queue.cancel(enqueued.id);
        expect(await workerQueue.recoverOrphans!('w-orphans', [])).toBe(1);
        expect((await fresh(enqueued)).status).toBe(CANCELLED);
      });

      it('a transactional attempt cancelled before its outcome is written rolls back, its effects with it', async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'writes');
        const { result } = await claim(enqueued.id, 'w-tx');
        await queue.cancel(enqueued.id);
        const outcome = await workerQueue.inTransaction!(
          { id: result.id, attempt: result.attempts },
          async (manager) => {
            await manager.query(
              `INSERT INTO ${effects} (result_id) VALUES (${db.name === 'postgres' ? '$1' : '?'})`,
              [result.id],
            );
            return recordOf(
              attemptSucceeded(result, 'written'),
              'w-tx',
              result,
            );
          },
        );
        expect(outcome).toBe('cancelled');
        expect(await ds.query(`SELECT * FROM ${effects}`)).toEqual([]);
        // Still the worker's to record, as the worker then does.
        expect((await fresh(enqueued)).status).toBe(RUNNING);
      });
    });

    // On SQLite a transactional attempt holds the database's write lock from its start: every writer waits for it.
    (db.name === 'sqlite' ? it.skip : it)(
      'a transactional task cancelled while it runs ends CANCELLED with its writes rolled back, whatever it returned',
      async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'writes');
        const worker = runWorker(app);
        await waitFor('the task to start', () => tasks.started.length === 1);
        expect((await other.get(TaskQueue).cancel(enqueued.id)).status).toBe(
          RUNNING,
        );
        await waitFor('the signal to abort', () =>
          tasks.aborted.has(enqueued.id),
        );
        tasks.gate.release();
        await expect(worker).resolves.toBe('drained');
        const done = await fresh(enqueued);
        expect(done.status).toBe(CANCELLED);
        expect(done.attempts).toBe(1);
        expect(await ds.query(`SELECT * FROM ${effects}`)).toEqual([]);
        expect(events.seen).toEqual([{ id: enqueued.id, status: CANCELLED }]);
      },
    );

    // SQLite only: elsewhere a transactional attempt holds no lock a cancel waits for (the test above).
    (db.name === 'sqlite' ? it : it.skip)(
      'a cancel waits for a transactional attempt holding the write lock, and is refused once it committed',
      async () => {
        const enqueued = await queue.enqueue(CancelTasks, 'writes');
        const worker = runWorker(app);
        await waitFor('the task to start', () => tasks.started.length === 1);
        const cancelled = other
          .get(TaskQueue)
          .cancel(enqueued.id)
          .then(
            () => null,
            (error: unknown) => error,
          );
        tasks.gate.release();
        const error = await cancelled;
        expect(error).toBeInstanceOf(InvalidTaskError);
        expect((error as Error).message).toContain(SUCCESSFUL);
        await expect(worker).resolves.toBe('drained');
        expect((await fresh(enqueued)).status).toBe(SUCCESSFUL);
        expect(await ds.query(`SELECT * FROM ${effects}`)).toHaveLength(1);
      },
    );

    describe('what cannot be cancelled', () => {
      it('a finished result is refused naming its status, and left as it was', async () => {
        const succeeded = await queue.enqueue(CancelTasks, 'plain', 9);
        await expect(runWorker(app)).resolves.toBe('drained');
        const failed = await queue.enqueue(CancelTasks, 'plain', 10);
        const { result } = await claim(failed.id, 'w-done');
        await workerQueue.complete([
          recordOf(
            attemptFailed(result, toErrorRecord(new Error('no')), {
              final: true,
            }),
            'w-done',
            result,
          ),
        ]);
        const cancelled = await queue.enqueue(CancelTasks, 'plain', 11);
        await queue.cancel(cancelled.id);

        for (const [finished, status] of [
          [succeeded, SUCCESSFUL],
          [failed, FAILED],
          [cancelled, CANCELLED],
        ] as const) {
          const before = await rowOf(finished.id);
          const error = await queue.cancel(finished.id).then(
            () => null,
            (caught: unknown) => caught,
          );
          expect(error).toBeInstanceOf(InvalidTaskError);
          expect((error as Error).message).toContain(finished.id);
          expect((error as Error).message).toContain(status);
          expect(await rowOf(finished.id)).toEqual(before);
        }
      });

      it('an unknown id is refused naming it, and nothing is stored', async () => {
        const id = randomUUID();
        const error = await queue.cancel(id).then(
          () => null,
          (caught: unknown) => caught,
        );
        expect(error).toBeInstanceOf(TaskResultDoesNotExistError);
        expect((error as Error).message).toContain(id);
        expect(await ds.query(`SELECT id FROM ${tableName}`)).toEqual([]);
      });
    });
  },
);
