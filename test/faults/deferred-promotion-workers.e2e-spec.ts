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
import { sleep } from '../support/faults.js';
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
/** Rows a promotion call takes at most (`DeferredPromoter`): a backlog of many makes a pass of many calls. */
const PROMOTION_BATCH = 1000;
/** How many times a fault test starts again when its fault missed the pass it aimed at. */
const FAULT_TRIES = 3;

beforeAll(buildTestApp, 60_000);

/**
 * Worker processes promoting the same deferred rows: several at once, and
 * one killed (SIGKILL) or paused (SIGSTOP) in the middle of a pass over a
 * backlog of many batches.
 */
describe.each(availableDatabases())(
  'worker processes promoting deferred tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_promote');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let env: Record<string, string>;
    const processes: WorkerProcess[] = [];

    /** A worker process polling every 100 ms; `--queue elsewhere` makes one that promotes and claims nothing. */
    const start = async (workerId: string, ...args: string[]) => {
      const worker = startWorker(env, [
        '--interval',
        '100',
        '--worker-id',
        `${table}-${workerId}`,
        ...args,
      ]);
      processes.push(worker);
      await waitFor(
        `worker ${workerId} to start`,
        () => worker.output().includes('started on backend'),
        30_000,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; it printed:\n${worker.output()}`);
      });
      return worker;
    };

    /** Rows by stored status. */
    const statusCounts = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        (
          await ds.query(
            `SELECT status, COUNT(*) AS n FROM ${table} GROUP BY status`,
          )
        ).map((row: { status: string; n: unknown }) => [
          row.status,
          Number(row.n),
        ]),
      );

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      env = workerEnv(db, ds, table, LEASE_MS);
      await ds.query(
        `CREATE TABLE ${table}_runs (result_id VARCHAR(36) NOT NULL, pid INTEGER NOT NULL, attempt INTEGER NOT NULL)`,
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

    afterEach(async () => {
      await killAll(processes);
      await ds.query(`DELETE FROM ${table}`);
      await ds.query(`DELETE FROM ${table}_runs`);
    });

    afterAll(async () => {
      try {
        await moduleRef?.close();
        if (ds?.isInitialized)
          await ds.query(`DROP TABLE IF EXISTS ${table}_runs`);
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    /**
     * Guards against a deferred task run twice (promoted by one worker
     * after another promoted and claimed it) or never (each worker skipping
     * what the other is promoting, neither promoting it): three worker
     * processes fall on the same backlog, two batches long, at the same
     * moment, and each task runs once.
     */
    it('runs each task once when three workers promote the same due rows at once', async () => {
      const tasks = 1500;
      await Promise.all(
        ['a', 'b', 'c'].map((id) =>
          start(`concurrent-${id}`, '--concurrency', '8'),
        ),
      );
      const runAfter = new Date(Date.now() + 1500);
      await queue
        .task(ProcessTasks, 'record')
        .using({ runAfter })
        .enqueueMany(Array.from({ length: tasks }, (_, i) => [i]));
      await waitFor(
        'every task to be recorded',
        async () =>
          ((await statusCounts())[TaskResultStatus.SUCCESSFUL] ?? 0) === tasks,
        90_000,
      ).catch(async (error: Error) => {
        // What a stall left behind: the rows by status, each worker's last words.
        throw new Error(
          `${error.message}; rows by status: ${JSON.stringify(await statusCounts())}\n` +
            processes
              .map((worker) => worker.output().slice(-2000))
              .join('\n---\n'),
        );
      });
      // A lease more: a task promoted or claimed twice would run again now.
      await sleep(LEASE_MS);
      const runs: { result_id: string; n: unknown; first: unknown }[] =
        await ds.query(
          `SELECT result_id, COUNT(*) AS n, MIN(attempt) AS first FROM ${table}_runs GROUP BY result_id`,
        );
      expect(runs).toHaveLength(tasks);
      expect(
        runs.filter((run) => Number(run.n) !== 1 || Number(run.first) !== 1),
      ).toEqual([]);
      expect(await statusCounts()).toEqual({
        [TaskResultStatus.SUCCESSFUL]: tasks,
      });
      const [earliest] = await ds.query(
        `SELECT MIN(started_at) AS at FROM ${table}`,
      );
      expect(Number(earliest.at)).toBeGreaterThanOrEqual(runAfter.getTime());
    }, 150_000);

    /**
     * A backlog of deferred rows, all due within a second, that a
     * promote-only worker starts on; resolves once the first of them was
     * promoted, the pass under way. Each test's promoter has an id of its
     * own: a killed one's id stays in use until its lease has lapsed.
     */
    const promotionUnderWay = async (
      rows: number,
      workerId: string,
    ): Promise<WorkerProcess> => {
      await queue
        .task(ProcessTasks, 'record')
        .using({ runAfter: new Date(Date.now() + 1000) })
        .enqueueMany(Array.from({ length: rows }, (_, i) => [i]));
      const worker = await start(workerId, '--queue', 'elsewhere');
      // Polled closely: on SQLite a whole pass takes a few tens of ms.
      const giveUpAt = Date.now() + 30_000;
      for (;;) {
        const [row] = await ds.query(
          `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'READY'`,
        );
        if (Number(row.n) > 0) break;
        if (Date.now() > giveUpAt)
          throw new Error('the promotion did not begin within 30 s');
        await sleep(2);
      }
      return worker;
    };

    /**
     * Runs `scenario` (given its try's number) until it answers that its
     * fault landed in the middle of a promotion pass, at most FAULT_TRIES
     * times, starting each try again from an empty table: on a loaded
     * machine a short pass (SQLite's take tens of ms) may end before the
     * signal reaches its worker. The test then asserts on the last try.
     */
    const untilTheFaultLands = async (
      scenario: (attempt: number) => Promise<boolean>,
    ) => {
      for (let attempt = 1; attempt < FAULT_TRIES; attempt++) {
        if (await scenario(attempt)) return;
        await killAll(processes);
        await ds.query(`DELETE FROM ${table}`);
      }
      await scenario(FAULT_TRIES);
    };

    /** Every row READY, untouched but for its status: none lost, none claimed, none changed. */
    const expectAllPromoted = async (rows: number) => {
      await waitFor(
        'every row to be promoted',
        async () => ((await statusCounts()).READY ?? 0) === rows,
        30_000,
      );
      const [row] = await ds.query(
        `SELECT COUNT(*) AS n FROM ${table} WHERE attempts = 0 AND worker_id IS NULL AND started_at IS NULL`,
      );
      expect(Number(row.n)).toBe(rows);
    };

    /**
     * Guards against rows lost or left where no worker takes them when a
     * worker process dies (SIGKILL) in the middle of a promotion pass over
     * many batches: its statement under way commits whole or not at all,
     * and another worker promotes what it left.
     */
    it('leaves no row behind when a worker is killed in the middle of a promotion', async () => {
      const rows = 20 * PROMOTION_BATCH;
      let left: Record<string, number> = {};
      await untilTheFaultLands(async (attempt) => {
        const promoter = await promotionUnderWay(
          rows,
          `killed-promoter-${attempt}`,
        );
        promoter.child.kill('SIGKILL');
        await promoter.exited;
        left = await statusCounts();
        return (left.SCHEDULED ?? 0) > 0;
      });
      // The fault is real: the pass was cut short.
      expect(left.SCHEDULED ?? 0).toBeGreaterThan(0);
      expect((left.SCHEDULED ?? 0) + (left.READY ?? 0)).toBe(rows);

      await start('after-kill', '--queue', 'elsewhere');
      await expectAllPromoted(rows);
    }, 240_000);

    /**
     * Guards against rows a paused worker process was promoting (SIGSTOP
     * for two leases: a frozen VM or container) held from the others past
     * its pause, or lost. On PostgreSQL and MariaDB another worker promotes
     * the rest meanwhile: on PostgreSQL all of it (a promotion is one
     * message the server carries out whole), on MariaDB all but the one
     * batch the paused worker's transaction may hold locked (its promotion
     * takes several round trips). On SQLite a worker paused inside a
     * statement holds the file's write lock, and no other worker can write
     * (not even register) until it resumes: there, only the outcome is
     * checked. Once resumed, everything is promoted, once.
     */
    it('promotes everything, and all but one batch during the pause, when a worker is paused in the middle of a promotion', async () => {
      const rows = 20 * PROMOTION_BATCH;
      /** Rows the paused worker may hold from the others. */
      const held = db.name === 'mariadb' ? PROMOTION_BATCH : 0;
      let scheduledAtPause = 0;
      let scheduledLeft = 0;
      await untilTheFaultLands(async (attempt) => {
        const promoter = await promotionUnderWay(
          rows,
          `paused-promoter-${attempt}`,
        );
        const pid = promoter.child.pid!;
        process.kill(pid, 'SIGSTOP');
        const stoppedAt = Date.now();
        try {
          scheduledAtPause = (await statusCounts()).SCHEDULED ?? 0;
          if (scheduledAtPause === 0) return false;
          if (db.name !== 'sqlite') {
            await start(`during-pause-${attempt}`, '--queue', 'elsewhere');
            await waitFor(
              'the other worker to promote what the paused one does not hold',
              async () => ((await statusCounts()).SCHEDULED ?? 0) <= held,
              30_000,
            );
          }
          const left = 2 * LEASE_MS - (Date.now() - stoppedAt);
          if (left > 0) await sleep(left);
          scheduledLeft = (await statusCounts()).SCHEDULED ?? 0;
          return true;
        } finally {
          process.kill(pid, 'SIGCONT');
        }
      });
      // The fault is real: the pass was under way.
      expect(scheduledAtPause).toBeGreaterThan(0);
      if (db.name !== 'sqlite') expect(scheduledLeft).toBeLessThanOrEqual(held);
      await expectAllPromoted(rows);
    }, 240_000);
  },
);
