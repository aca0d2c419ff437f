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
import { bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';
import {
  buildTestApp,
  killAll,
  startWorker,
  workerEnv,
  type WorkerProcess,
} from '../support/worker-process.js';

const LEASE_MS = 1500;
const TASKS = 3;

beforeAll(buildTestApp, 60_000);

/**
 * A transactional task's worker process is killed (SIGKILL) in the middle
 * of its attempts, after each wrote its effect in its transaction. Their
 * transactions die with the process; another worker rescues the tasks once
 * their lease has run out, and the second attempts commit their effects
 * with their success. Every task's effect is written exactly once.
 *
 * Fails on a task whose effect is written outside the attempt's transaction
 * (or committed before its outcome): the killed attempts' rows would stay,
 * and each task would show two effects.
 */
describe.each(availableDatabases())(
  'a transactional task whose worker is killed mid-attempt on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_txkill');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let env: Record<string, string>;
    const processes: WorkerProcess[] = [];

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      env = workerEnv(db, ds, table, LEASE_MS);
      await ds.query(
        `CREATE TABLE ${table}_effects (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL)`,
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
      await moduleRef?.close();
      if (ds?.isInitialized)
        await ds.query(`DROP TABLE IF EXISTS ${table}_effects`);
      await closeTestDataSource(db, ds, table);
    });

    it('commits each task effect exactly once', async () => {
      const results = await queue
        .task(ProcessTasks, 'transactionalEffect')
        .enqueueMany(Array.from({ length: TASKS }, () => [60_000] as [number]));
      const doomed = startWorker(env, ['--interval', '100']);
      processes.push(doomed);
      // Its attempts are under way (SQLite runs them one at a time: one is).
      await waitFor(
        'the first worker to claim the tasks',
        async () => {
          const [row] = await ds.query(
            `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'RUNNING'`,
          );
          return Number(row.n) >= 1;
        },
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      doomed.child.kill('SIGKILL');
      await doomed.exited;

      const [{ n: uncommitted }] = await ds.query(
        `SELECT COUNT(*) AS n FROM ${table}_effects`,
      );
      expect(Number(uncommitted)).toBe(0);

      // The second worker finishes quickly: the task sleeps only on attempt 1.
      await ds.query(`UPDATE ${table} SET args = '[10]'`);
      const rescuer = startWorker(env, ['--interval', '100']);
      processes.push(rescuer);
      await waitFor(
        'every task to succeed',
        async () => {
          const done = await Promise.all(
            results.map((result) => queue.getResult(result.id)),
          );
          return done.every(
            (result) => result.status === TaskResultStatus.SUCCESSFUL,
          );
        },
        40_000,
      );
      const effects = (await ds.query(
        `SELECT result_id, pid FROM ${table}_effects`,
      )) as { result_id: string; pid: number }[];
      expect(effects.map((row) => row.result_id).sort()).toEqual(
        results.map((result) => result.id).sort(),
      );
      expect(
        effects.every((row) => Number(row.pid) === rescuer.child.pid),
      ).toBe(true);
    }, 90_000);
  },
);
