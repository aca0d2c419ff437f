import type { TestingModule } from '@nestjs/testing';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import {
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  createTaskMigrations,
  type TaskResult,
} from '../../lib/index.js';
import { ProcessTasks } from '../src/process-tasks.js';
import {
  dataSourceOptions,
  type TestDatabaseName,
} from '../src/test-database.js';
import { availableDatabases } from '../support/databases.js';
import {
  BIN_ENTRY,
  buildTestApp,
  startCli,
  startWorker,
  type WorkerProcess,
} from '../support/worker-process.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

const LEASE_MS = 1500;

beforeAll(buildTestApp, 60_000);

describe.each(availableDatabases().map((db) => db.name))(
  'worker processes on %s',
  (db: TestDatabaseName) => {
    const table = `t_proc_${randomBytes(4).toString('hex')}`;
    const sqliteFile = join(tmpdir(), `${table}.sqlite`);
    const env = {
      TASKS_TEST_DB: db,
      TASKS_TEST_TABLE: table,
      TASKS_TEST_LEASE_MS: String(LEASE_MS),
      TASKS_TEST_SQLITE_FILE: sqliteFile,
    };
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    const workers: WorkerProcess[] = [];

    const start = (...args: string[]) => {
      const worker = startWorker(env, ['--interval', '100', ...args]);
      workers.push(worker);
      return worker;
    };
    const runs = async (): Promise<{ result_id: string; pid: number }[]> =>
      ds.query(`SELECT result_id, pid FROM ${table}_runs`);
    const statusCounts = async (): Promise<Record<string, number>> => {
      const rows: { status: string; n: string | number }[] = await ds.query(
        `SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`,
      );
      return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));
    };
    const expectExit = async (worker: WorkerProcess, code: number | string) => {
      const exit = await worker.exited;
      if (exit !== code)
        throw new Error(
          `worker exited with ${exit}, expected ${code}; its output:\n${worker.output()}`,
        );
    };
    const stopGracefully = async (worker: WorkerProcess) => {
      worker.child.kill('SIGTERM');
      await expectExit(worker, 0);
    };
    /** Enqueues a 30 s sleep, starts a worker with `args` and waits until the task runs. */
    const startLongTask = async (...args: string[]) => {
      const result = await queue.enqueue(ProcessTasks, 'sleep', 30_000);
      const worker = start(...args);
      await waitFor(
        'the task to start',
        async () => (await runs()).length === 1,
      );
      return { result, worker };
    };
    const expectInterrupted = async (result: TaskResult) => {
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.FAILED);
      expect(result.errors[0].errorClass).toBe('TaskInterruptedError');
    };

    beforeAll(async () => {
      ds = new DataSource({
        ...dataSourceOptions(db, sqliteFile),
        migrations: createTaskMigrations(table),
        migrationsTableName: `${table}_migrations`,
      });
      await ds.initialize();
      await ds.runMigrations();
      await ds.query(
        `CREATE TABLE ${table}_runs (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL, attempt INTEGER NOT NULL)`,
      );
      await ds.query(
        `CREATE TABLE ${table}_effects (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL)`,
      );
      moduleRef = await bootTasksApp({
        tableName: table,
        leaseMs: LEASE_MS,
        providers: [ProcessTasks],
        provideDataSource: ds,
        logger: true,
      });
      queue = moduleRef.get(TaskQueue);
    }, 60_000);

    afterEach(async () => {
      for (const worker of workers.splice(0)) {
        if (worker.child.exitCode === null && worker.child.signalCode === null)
          worker.child.kill('SIGKILL');
        await worker.exited;
      }
      await ds.query(`DELETE FROM ${table}_runs`);
      await ds.query(`DELETE FROM ${table}_effects`);
      await ds.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      if (ds?.isInitialized) {
        await ds.undoLastMigration();
        await ds.query(`DROP TABLE IF EXISTS ${table}_runs`);
        await ds.query(`DROP TABLE IF EXISTS ${table}_effects`);
        await ds.query(`DROP TABLE IF EXISTS ${table}_migrations`);
        await ds.destroy();
      }
      rmSync(sqliteFile, { force: true });
      rmSync(`${sqliteFile}-wal`, { force: true });
      rmSync(`${sqliteFile}-shm`, { force: true });
    });

    it('runs every task exactly once across 4 worker processes × concurrency 8', async () => {
      const total = 4000;
      const results = await queue
        .task(ProcessTasks, 'record')
        .enqueueMany(Array.from({ length: total }, (_, i) => [i]));
      expect(new Set(results.map((result) => result.id)).size).toBe(total);
      const started = [1, 2, 3, 4].map(() =>
        start('--batch', '--concurrency', '8'),
      );
      for (const worker of started) await expectExit(worker, 0);
      // Batch workers exit when they see no work; the last ones may leave stragglers only if a bug lost them.
      expect(await statusCounts()).toEqual({ SUCCESSFUL: total });
      const duplicates: unknown[] = await ds.query(
        `SELECT result_id, COUNT(*) AS n FROM ${table}_runs GROUP BY result_id HAVING COUNT(*) > 1`,
      );
      expect(duplicates).toEqual([]);
      const all = await runs();
      expect(all).toHaveLength(total);
      expect(new Set(all.map((run) => run.result_id)).size).toBe(total);
      expect(new Set(all.map((run) => Number(run.pid))).size).toBeGreaterThan(
        1,
      );
    }, 180_000);

    it('rescues the tasks of a SIGKILLed worker: nothing stays RUNNING, nothing is lost', async () => {
      const results = await queue
        .task(ProcessTasks, 'sleep')
        .enqueueMany(Array.from({ length: 6 }, () => [60_000]));
      const doomed = start('--concurrency', '8');
      await waitFor(
        'all six tasks to start',
        async () => (await runs()).length === 6,
      );
      doomed.child.kill('SIGKILL');
      expect(await doomed.exited).toBe('SIGKILL');
      expect(await statusCounts()).toEqual({ RUNNING: 6 });
      const rescuer = start('--concurrency', '2');
      await waitFor(
        'the rescue of all six',
        async () => (await statusCounts()).FAILED === 6,
        30_000,
      );
      await stopGracefully(rescuer);
      for (const result of results) {
        await result.refresh();
        expect(result.status).toBe(TaskResultStatus.FAILED);
        expect(result.errors.map((error) => error.errorClass)).toEqual([
          'TaskInterruptedError',
        ]);
        expect(result.errors[0].message).toContain('stopped heartbeating');
      }
      // The rescuer never ran them again (maxAttempts is 1).
      expect(await runs()).toHaveLength(6);
    }, 60_000);

    it('lets a running task finish on SIGTERM and exits 0; getResult elsewhere sees RUNNING then SUCCESSFUL', async () => {
      const result = await queue.enqueue(ProcessTasks, 'sleep', 1500);
      const worker = start('--concurrency', '2');
      await waitFor(
        'the task to run',
        async () =>
          (await queue.getResult(result.id)).status ===
          TaskResultStatus.RUNNING,
      );
      const running = await queue.getResult(result.id);
      expect(running.workerIds).toHaveLength(1);
      expect(running.startedAt).toBeInstanceOf(Date);
      await stopGracefully(worker);
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe('slept 1500');
      expect(result.workerIds).toEqual(running.workerIds);
    }, 30_000);

    it('aborts running tasks on a second signal and exits non-zero, recording them interrupted', async () => {
      const { result, worker } = await startLongTask('--concurrency', '2');
      worker.child.kill('SIGTERM');
      await waitFor('the first signal to be handled', () =>
        worker.output().includes('SIGTERM received'),
      );
      worker.child.kill('SIGTERM');
      await expectExit(worker, 1);
      await expectInterrupted(result);
    }, 30_000);

    describe('a running task cancelled from this process', () => {
      /** Enqueues `task` with `args`, starts a worker and waits until the task runs there. */
      const startCancellable = async (
        enqueue: () => Promise<TaskResult>,
      ): Promise<{ result: TaskResult; worker: WorkerProcess }> => {
        const result = await enqueue();
        const worker = start('--concurrency', '2');
        await waitFor(
          'the task to run',
          async () =>
            (await queue.getResult(result.id)).status ===
            TaskResultStatus.RUNNING,
        );
        return { result, worker };
      };
      /** Cancels `result` (still RUNNING then) and waits until its attempt has ended. */
      const cancelAndWait = async (result: TaskResult) => {
        expect((await queue.cancel(result.id)).status).toBe(
          TaskResultStatus.RUNNING,
        );
        await waitFor(
          'the attempt to end',
          async () => (await queue.getResult(result.id)).isFinished,
        );
        await result.refresh();
      };

      it('has its signal aborted in the worker process with TaskCancelledError and ends CANCELLED, not retried', async () => {
        const { result, worker } = await startCancellable(() =>
          queue.enqueue(ProcessTasks, 'untilCancelled'),
        );
        await cancelAndWait(result);
        await stopGracefully(worker);
        expect(result.status).toBe(TaskResultStatus.CANCELLED);
        expect(result.finishedAt).toBeInstanceOf(Date);
        expect(result.attempts).toBe(1);
        expect(result.errors.map((error) => error.errorClass)).toEqual([
          'TaskCancelledError',
        ]);
        expect(result.errors[0].message).toContain(result.id);
        expect(await runs()).toHaveLength(1);
      }, 30_000);

      it('that ignores its signal still ends, and its result is recorded CANCELLED', async () => {
        const { result, worker } = await startCancellable(() =>
          queue.enqueue(ProcessTasks, 'ignoresCancel', 300),
        );
        await cancelAndWait(result);
        await stopGracefully(worker);
        expect(result.status).toBe(TaskResultStatus.CANCELLED);
        expect(result.metadata.abortedWith).toBe('TaskCancelledError');
        expect(result.errors).toEqual([]);
        expect(result.attempts).toBe(1);
        expect(await runs()).toHaveLength(1);
      }, 30_000);

      it('whose worker was killed is rescued CANCELLED by another worker, not retried', async () => {
        const { result, worker: doomed } = await startCancellable(() =>
          queue.enqueue(ProcessTasks, 'untilCancelled'),
        );
        // Claimed is not yet started: killed only once its code has run.
        await waitFor(
          'the task code to start',
          async () => (await runs()).length === 1,
        );
        doomed.child.kill('SIGKILL');
        expect(await doomed.exited).toBe('SIGKILL');
        expect((await queue.cancel(result.id)).status).toBe(
          TaskResultStatus.RUNNING,
        );
        const rescuer = start('--concurrency', '2');
        await waitFor(
          'the rescue',
          async () => (await queue.getResult(result.id)).isFinished,
        );
        await stopGracefully(rescuer);
        await result.refresh();
        expect(result.status).toBe(TaskResultStatus.CANCELLED);
        expect(result.errors.map((error) => error.errorClass)).toEqual([
          'TaskInterruptedError',
        ]);
        expect(await runs()).toHaveLength(1);
      }, 30_000);

      // On SQLite a transactional attempt holds the write lock: the cancel waits for its end (test/database/cancel-running).
      (db === 'sqlite' ? it.skip : it)(
        'that is transactional ends CANCELLED with its writes rolled back',
        async () => {
          const { result, worker } = await startCancellable(() =>
            queue.enqueue(ProcessTasks, 'transactionalEffect', 1500),
          );
          await cancelAndWait(result);
          await stopGracefully(worker);
          expect(result.status).toBe(TaskResultStatus.CANCELLED);
          expect(result.attempts).toBe(1);
          expect(await ds.query(`SELECT * FROM ${table}_effects`)).toEqual([]);
        },
        30_000,
      );
    });

    // Only PostgreSQL can wake a worker in another process; elsewhere workers poll.
    (db === 'postgres' ? it : it.skip)(
      'wakes an idle worker at once through LISTEN/NOTIFY',
      async () => {
        const worker = start('--interval', '600000');
        await waitFor('the worker to listen', async () =>
          worker.output().includes('started on backend'),
        );
        const result = await queue.enqueue(ProcessTasks, 'record', 7);
        // With a ten-minute polling interval only the notification can have started it.
        await waitFor(
          'the notified worker to run it',
          async () => (await queue.getResult(result.id)).isFinished,
        );
        await result.refresh();
        expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
        await stopGracefully(worker);
      },
      30_000,
    );

    it('tasks:status shows counts per queue and status and the live workers', async () => {
      await queue.task(ProcessTasks, 'record').enqueueMany([[1], [2], [3]]);
      const worker = start(
        '--concurrency',
        '1',
        '--worker-id',
        'status-probe-worker',
      );
      await waitFor(
        'the queue to drain',
        async () => (await statusCounts()).SUCCESSFUL === 3,
      );
      const status = startCli(env, ['tasks:status']);
      await expectExit(status, 0);
      expect(status.output()).toMatch(/default\s+SUCCESSFUL\s+3/);
      expect(status.output()).toContain('status-probe-worker');
      await stopGracefully(worker);
    }, 30_000);

    it('tasks:prune deletes finished results older than asked, and --dry-run only counts', async () => {
      const [old, recent] = await queue
        .task(ProcessTasks, 'record')
        .enqueueMany([[1], [2]]);
      await expectExit(start('--batch'), 0);
      const eightDaysAgo = Date.now() - 8 * 86_400_000;
      const [p1, p2] = db === 'postgres' ? ['$1', '$2'] : ['?', '?'];
      await ds.query(
        `UPDATE ${table} SET finished_at = ${p1} WHERE id = ${p2}`,
        [eightDaysAgo, old.id],
      );
      const dryRun = startCli(env, [
        'tasks:prune',
        '--older-than',
        '7d',
        '--dry-run',
      ]);
      await expectExit(dryRun, 0);
      expect(dryRun.output()).toContain('Would delete 1 result(s)');
      expect(await statusCounts()).toEqual({ SUCCESSFUL: 2 });
      const prune = startCli(env, [
        'tasks:prune',
        '--older-than',
        '7d',
        '--status',
        'SUCCESSFUL',
        '--batch-size',
        '1',
      ]);
      await expectExit(prune, 0);
      expect(prune.output()).toContain('Deleted 1 result(s)');
      await expect(queue.getResult(old.id)).rejects.toThrow(
        TaskResultDoesNotExistError,
      );
      expect((await queue.getResult(recent.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
    }, 30_000);

    it('tasks:check passes on migrated tables, fails naming the fix on missing ones; bad flags exit non-zero', async () => {
      const ok = startCli(env, ['tasks:check']);
      await expectExit(ok, 0);
      expect(ok.output()).toContain("Backend 'default' (DatabaseBackend): OK");
      const absent = { ...env, TASKS_TEST_TABLE: `${table}_absent` };
      const missing = startCli(absent, ['tasks:check']);
      await expectExit(missing, 1);
      expect(missing.output()).toContain(
        `createTaskMigrations('${table}_absent')`,
      );
      await expectExit(startCli(absent, ['tasks:work', '--batch']), 1);
      const badFlag = startCli(env, ['tasks:work', '--concurrency', 'lots']);
      await expectExit(badFlag, 1);
      expect(badFlag.output()).toContain("'lots' must be a whole number");
    }, 30_000);

    it('the nest-tasks bin finds the app module from --app', async () => {
      const app = '.test-build/test/src/app.module.js';
      const check = startCli(
        env,
        ['--app', `${app}#AppModule`, 'tasks:check'],
        BIN_ENTRY,
      );
      await expectExit(check, 0);
      expect(check.output()).toContain('OK');
      const wrongExport = startCli(
        env,
        ['--app', `${app}#Nope`, 'tasks:check'],
        BIN_ENTRY,
      );
      await expectExit(wrongExport, 1);
      expect(wrongExport.output()).toContain("has no export 'Nope'");
    }, 30_000);

    it('--max-tasks exits after that many tasks, leaving the rest READY', async () => {
      await queue
        .task(ProcessTasks, 'record')
        .enqueueMany([[1], [2], [3], [4], [5]]);
      await expectExit(start('--max-tasks', '2', '--concurrency', '1'), 0);
      expect(await statusCounts()).toEqual({ SUCCESSFUL: 2, READY: 3 });
    }, 30_000);

    it('--shutdown-timeout bounds a graceful stop: tasks still running then are interrupted and the exit is non-zero', async () => {
      const { result, worker } = await startLongTask(
        '--shutdown-timeout',
        '300',
      );
      worker.child.kill('SIGTERM');
      await expectExit(worker, 1);
      await expectInterrupted(result);
    }, 30_000);
  },
);
