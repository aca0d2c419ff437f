import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTaskMigrations } from '../../lib/index.js';
import {
  dataSourceOptions,
  type TestDatabaseName,
} from '../src/test-database.js';
import { availableDatabases } from '../support/databases.js';
import {
  buildTestApp,
  killAll,
  startCli,
  startWorker,
  type WorkerProcess,
} from '../support/worker-process.js';
import { waitFor } from '../support/wait.js';

const TASK = 'PeriodicTasks.everySecond';

beforeAll(buildTestApp, 60_000);

/**
 * Worker processes of an application with a task scheduled every second
 * (TASKS_TEST_PERIODIC=1): however many run, each tick is enqueued once.
 */
describe.each(availableDatabases().map((db) => db.name))(
  'periodic tasks across worker processes on %s',
  (db: TestDatabaseName) => {
    const table = `t_per_${randomBytes(4).toString('hex')}`;
    const sqliteFile = join(tmpdir(), `${table}.sqlite`);
    const env = {
      TASKS_TEST_DB: db,
      TASKS_TEST_TABLE: table,
      TASKS_TEST_LEASE_MS: '3000',
      TASKS_TEST_SQLITE_FILE: sqliteFile,
      TASKS_TEST_PERIODIC: '1',
    };
    let ds: DataSource;
    const workers: WorkerProcess[] = [];

    /** The ticks enqueued, as stored in each run's metadata, in epoch ms. */
    const enqueuedTicks = async (): Promise<number[]> => {
      const rows: { metadata: string }[] = await ds.query(
        `SELECT metadata FROM ${table} WHERE task_name = '${TASK}'`,
      );
      return rows
        .map((row) => Date.parse(JSON.parse(row.metadata).scheduledFor))
        .sort((a, b) => a - b);
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
    }, 60_000);

    afterAll(async () => {
      await killAll(workers);
      if (ds?.isInitialized) {
        for (let i = 0; i < createTaskMigrations(table).length; i++)
          await ds.undoLastMigration();
        await ds.query(`DROP TABLE IF EXISTS ${table}_runs`);
        await ds.query(`DROP TABLE IF EXISTS ${table}_migrations`);
        await ds.destroy();
      }
      rmSync(sqliteFile, { force: true });
      rmSync(`${sqliteFile}-wal`, { force: true });
      rmSync(`${sqliteFile}-shm`, { force: true });
    });

    it('4 workers enqueue one task per tick of a task scheduled every second: no duplicate, no gap; tasks:status shows the next run', async () => {
      for (let i = 0; i < 4; i++)
        workers.push(
          startWorker(env, ['--interval', '100', '--concurrency', '2']),
        );
      await waitFor(
        'the four workers to start',
        () =>
          workers.every((worker) =>
            worker.output().includes('started on backend'),
          ),
        30_000,
      );
      const allRunning = Date.now();
      await waitFor(
        'six ticks enqueued while all four workers run',
        async () =>
          (await enqueuedTicks()).filter((tick) => tick > allRunning).length >=
          6,
        30_000,
      );

      const status = startCli(env, ['tasks:status']);
      expect(await status.exited).toBe(0);
      const line = status
        .output()
        .split('\n')
        .find((text) => text.startsWith(TASK));
      expect(line).toBeDefined();
      const [, backend, queue, ...rest] = line!.split(/\s{2,}/);
      expect([backend, queue]).toEqual(['default', 'default']);
      const [cron, timeZone, nextRun, lastTick] = rest;
      expect([cron, timeZone]).toEqual(['* * * * * *', 'UTC']);
      const statusRead = Date.now();
      expect(Date.parse(nextRun)).toBeGreaterThan(allRunning);
      expect(Date.parse(nextRun) % 1000).toBe(0);
      expect(Date.parse(lastTick)).toBeLessThanOrEqual(statusRead);

      for (const worker of workers) worker.child.kill('SIGTERM');
      for (const worker of workers) {
        const exit = await worker.exited;
        if (exit !== 0)
          throw new Error(
            `worker exited with ${exit}; its output:\n${worker.output()}`,
          );
      }

      const ticks = await enqueuedTicks();
      expect(new Set(ticks).size).toBe(ticks.length);
      const whileAllRan = ticks.filter((tick) => tick > allRunning);
      expect(whileAllRan.length).toBeGreaterThanOrEqual(6);
      const gaps = whileAllRan.slice(1).map((tick, i) => tick - whileAllRan[i]);
      expect(new Set(gaps)).toEqual(new Set([1000]));
      // Each ran (or waits to run, enqueued just before the stop) once.
      const statuses: { status: string }[] = await ds.query(
        `SELECT DISTINCT status FROM ${table} WHERE task_name = '${TASK}'`,
      );
      for (const { status: state } of statuses)
        expect(['SUCCESSFUL', 'READY']).toContain(state);
    }, 120_000);
  },
);
