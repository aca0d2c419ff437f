import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import { ProcessTasks } from '../src/process-tasks.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  clockMsSql,
  countRunning,
  heldSessionLocks,
  sleep,
  sqlOn,
} from '../support/faults.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';
import {
  buildTestApp,
  killAll,
  startWorker,
  workerEnv,
  type WorkerProcess,
} from '../support/worker-process.js';

const LEASE_MS = 2000;
const SLOW_TASKS = 4;

beforeAll(buildTestApp, 60_000);

/**
 * A worker process paused for two leases (SIGSTOP: a VM or container
 * frozen, a debugger, a long stop-the-world pause) while it runs tasks, and
 * a second worker process live all the while. By the database's clock the
 * paused worker's leases run out, but its process still exists and (on
 * PostgreSQL and MariaDB) its session is still open: it is not gone, and
 * its tasks must not be taken from it. Resumed, it finishes them, and warns
 * that it could not heartbeat for longer than its lease.
 *
 * Fails on a worker that rescues by the lease alone: W2 takes W1's four
 * tasks during the pause and records them FAILED (TaskInterruptedError, no
 * attempt left), and W1's outcomes are discarded when it resumes.
 */
describe.each(availableDatabases())(
  'a worker process paused past its lease on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_pause');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let env: Record<string, string>;
    const processes: WorkerProcess[] = [];
    const sql = (text: string, params?: unknown[]) =>
      sqlOn(db.name, (t, p) => ds.query(t, p))(text, params);

    const start = (...args: string[]) => {
      const worker = startWorker(env, ['--interval', '100', ...args]);
      processes.push(worker);
      return worker;
    };
    const stopGracefully = async (worker: WorkerProcess) => {
      worker.child.kill('SIGTERM');
      const exit = await worker.exited;
      if (exit !== 0)
        throw new Error(
          `worker exited with ${exit}; its output:\n${worker.output()}`,
        );
    };

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      env = workerEnv(db, ds, table, LEASE_MS, {
        TASKS_TEST_RECORD_FINISHED: '1',
      });
      await ds.query(
        `CREATE TABLE ${table}_runs (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL, attempt INTEGER NOT NULL)`,
      );
      await ds.query(
        `CREATE TABLE ${table}_outcomes (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL, status VARCHAR(20) NOT NULL)`,
      );
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        leaseMs: LEASE_MS,
        providers: [ProcessTasks],
        provideDataSource: ds,
      });
      queue = moduleRef.get(TaskQueue);
    }, 60_000);

    afterEach(() => killAll(processes));

    afterAll(async () => {
      try {
        await moduleRef?.close();
        if (ds?.isInitialized)
          for (const extra of ['runs', 'outcomes'])
            await ds.query(`DROP TABLE IF EXISTS ${table}_${extra}`);
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    it('leaves its tasks to it: each runs once, SUCCESSFUL, with one recorded outcome, and it warns about the pause', async () => {
      const w1Id = `${table}-w1`;
      const w2Id = `${table}-w2`;
      // W1 takes the slow queue, W2 the default one; a rescue spans every queue.
      const w1 = start(
        '--queue',
        'slow',
        '--concurrency',
        '4',
        '--worker-id',
        w1Id,
      );
      const w2 = start('--queue', 'default', '--worker-id', w2Id);
      await waitFor(
        'both workers to start',
        () =>
          w1.output().includes('started on backend') &&
          w2.output().includes('started on backend'),
        30_000,
      );
      const slow = await queue
        .task(ProcessTasks, 'sleep')
        .using({ queueName: 'slow' })
        .enqueueMany(Array.from({ length: SLOW_TASKS }, () => [3 * LEASE_MS]));
      const runsOf = async (): Promise<{ result_id: string; pid: number }[]> =>
        ds.query(`SELECT result_id, pid FROM ${table}_runs`);
      await waitFor(
        'W1 to run the slow tasks',
        async () => (await runsOf()).length === SLOW_TASKS,
      );
      const pid = w1.child.pid!;

      process.kill(pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      let expired = 0;
      let heldByW1 = 0;
      let sessionOfW1: number | null = -1;
      try {
        // W2 is live meanwhile: it runs work of its own.
        const quick = await queue
          .task(ProcessTasks, 'record')
          .enqueueMany([[1], [2], [3]]);
        // The fault is real: by the database's clock W1's leases run out.
        await waitFor(
          "W1's leases to run out",
          async () => {
            const [row] = await sql(
              `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'RUNNING' AND worker_id = :1 AND lease_expires_at < ${clockMsSql(db.name)}`,
              [w1Id],
            );
            expired = Number(row.n);
            return expired === SLOW_TASKS;
          },
          4 * LEASE_MS,
        );
        await waitFor(
          'W2 to run its own tasks',
          async () => {
            for (const result of quick) await result.refresh();
            return quick.every(
              (result) => result.status === TaskResultStatus.SUCCESSFUL,
            );
          },
          4 * LEASE_MS,
        );
        const left = 2 * LEASE_MS - (Date.now() - stoppedAt);
        if (left > 0) await sleep(left);
        // Two leases on, W1 still holds all four.
        const [row] = await sql(
          `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'RUNNING' AND worker_id = :1`,
          [w1Id],
        );
        heldByW1 = Number(row.n);
        // Paused, W1 keeps its session open (PostgreSQL, MariaDB).
        sessionOfW1 = await heldSessionLocks(db.name, ds, table, [w1Id]);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(expired).toBe(SLOW_TASKS);
      expect(heldByW1).toBe(SLOW_TASKS);
      expect(sessionOfW1).toBe(db.name === 'sqlite' ? null : 1);

      await waitFor(
        'the slow tasks to be recorded',
        async () => (await countRunning(ds, table)) === 0,
        30_000,
      );
      await stopGracefully(w1);
      await stopGracefully(w2);

      const runs = await runsOf();
      const finished: { result_id: string; pid: number; status: string }[] =
        await ds.query(`SELECT result_id, pid, status FROM ${table}_outcomes`);
      for (const result of slow) {
        await result.refresh();
        expect({
          status: result.status,
          attempts: result.attempts,
          errors: result.errors,
          workerIds: result.workerIds,
          runs: runs
            .filter((run) => run.result_id === result.id)
            .map((run) => Number(run.pid)),
          outcomes: finished
            .filter((event) => event.result_id === result.id)
            .map((event) => [Number(event.pid), event.status]),
        }).toEqual({
          status: TaskResultStatus.SUCCESSFUL,
          attempts: 1,
          errors: [],
          workerIds: [w1Id],
          runs: [pid],
          outcomes: [[pid, TaskResultStatus.SUCCESSFUL]],
        });
      }
      expect(w1.output()).toMatch(
        /heartbeat for [\d.]+ s, longer than its lease \(2000 ms\)/,
      );
      expect(w1.output()).not.toContain('no longer held');
      expect(w1.output()).not.toContain('was discarded');
      expect(w2.output()).not.toContain('stopped heartbeating');
    }, 90_000);
  },
);
