import type { TestingModule } from '@nestjs/testing';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  bootFaultApp,
  countRunning,
  expiredLeasesSql,
  FaultTasks,
  FinishedEvents,
  heldSessionLocks,
  lockTable,
  sleep,
  watchRescues,
  Workers,
  type CapturedLogs,
  type TableLock,
} from '../support/faults.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

const LEASE_MS = 1500;
const WORKERS = ['outage-a', 'outage-b'];

/**
 * The database stops answering for two leases while two workers run tasks:
 * PostgreSQL and MariaDB behind a proxy that resets every connection and
 * refuses new ones (a failover, a network partition, a server restart);
 * SQLite, which has no connections, behind an exclusive lock on its file.
 * Some tasks end during the outage (their outcomes wait for the database),
 * others run on past it (their leases must be renewed after it).
 *
 * During the outage the leases run out by the database's clock and, on the
 * servers, the workers' sessions close: to the database both workers look
 * gone. Fails on a worker that rescues as soon as the database answers
 * again: the worker back first takes the other's tasks, which end FAILED
 * with TaskInterruptedError (on SQLite both workers live in this test's
 * process, which a rescue always spares). Fails too on outcomes given up
 * during the outage (rows left RUNNING) and on an outage logged per failed
 * call instead of once per worker.
 */
describe.each(availableDatabases())(
  'the database unreachable for two leases on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_outage');
    const server = db.name !== 'sqlite';
    let ds: DataSource;
    let workerDs: DataSource;
    let lockDs: DataSource | undefined;
    let proxy: TcpProxy | undefined;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: FaultTasks;
    let events: FinishedEvents;
    let logs: CapturedLogs;
    const workers = new Workers();

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      if (server) {
        const { port } = db.options as { port: number };
        proxy = await TcpProxy.start(port);
        workerDs = await connectTestDataSource(db, table, {
          host: '127.0.0.1',
          port: proxy.port,
        } as Partial<DataSourceOptions>);
      } else {
        workerDs = ds;
        lockDs = await connectTestDataSource(db, table);
      }
      ({ moduleRef, queue, tasks, events, logs } = await bootFaultApp(
        workerDs,
        table,
        LEASE_MS,
      ));
    });

    afterEach(async () => {
      proxy?.restore();
      await workers.abortAll();
    });

    afterAll(async () => {
      proxy?.restore();
      try {
        await moduleRef?.close();
        if (workerDs !== ds && workerDs?.isInitialized)
          await workerDs.destroy();
        if (lockDs?.isInitialized) await lockDs.destroy();
        await proxy?.close();
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    /** Starts the outage; returns how to observe the tables meanwhile and how to end it. */
    const beginOutage = async (): Promise<{
      query: (text: string) => Promise<any[]>;
      end: () => Promise<void>;
    }> => {
      if (proxy) {
        proxy.cut();
        return {
          query: (text) => ds.query(text),
          end: async () => proxy!.restore(),
        };
      }
      const lock: TableLock = await lockTable(db, lockDs!, table);
      return { query: (text) => lock.query(text), end: () => lock.release() };
    };

    it('keeps every task with its worker: none FAILED, each runs once and is recorded once', async () => {
      // Three end during the outage, three run on a lease past it.
      const durations = [1, 1, 1, 4, 4, 4].map((n) => n * LEASE_MS);
      const results = await queue
        .task(FaultTasks, 'sleep')
        .enqueueMany(durations.map((ms) => [ms]));
      const rescues = watchRescues(moduleRef);
      // Heartbeats out of step (half an interval apart), as on separate
      // machines: after the outage one worker is back before the other.
      workers.start(moduleRef, { workerId: WORKERS[0], concurrency: 3 });
      await waitFor('three tasks to run', () => tasks.total === 3);
      await sleep(LEASE_MS / 6);
      workers.start(moduleRef, { workerId: WORKERS[1], concurrency: 3 });
      await waitFor('all six tasks to run', () => tasks.total === 6);
      const holders = (
        await ds.query(
          `SELECT DISTINCT worker_id FROM ${table} WHERE status = 'RUNNING'`,
        )
      ).map((row: { worker_id: string }) => row.worker_id);
      expect(holders.sort()).toEqual(WORKERS);

      // Both workers hold their session lock before the outage.
      expect(await heldSessionLocks(db.name, ds, table, WORKERS)).toBe(
        server ? 2 : null,
      );
      const outage = await beginOutage();
      const began = Date.now();
      let expired = 0;
      let sessions: number | null = null;
      let endedAt = began;
      try {
        // The fault is real: the leases run out by the database's clock and
        // (on the servers) the workers' sessions are gone.
        await waitFor(
          'the leases to run out during the outage',
          async () => {
            const [row] = await outage.query(expiredLeasesSql(db.name, table));
            expired = Number(row.n);
            sessions = await heldSessionLocks(db.name, ds, table, WORKERS);
            return expired === 6 && (sessions === null || sessions === 0);
          },
          4 * LEASE_MS,
        );
        const left = 2 * LEASE_MS - (Date.now() - began);
        if (left > 0) await sleep(left);
      } finally {
        await outage.end();
        endedAt = Date.now();
      }
      expect(expired).toBe(6);
      expect(sessions).toBe(server ? 0 : null);

      await waitFor(
        'every task to be recorded',
        async () => (await countRunning(ds, table)) === 0,
        30_000,
      );
      // Two leases more: any late rescue would show now.
      await sleep(2 * LEASE_MS);
      expect(await workers.stopAll()).toEqual(['drained', 'drained']);
      rescues.restore();

      for (const [i, result] of results.entries()) {
        const read = await queue.getResult(result.id);
        expect({
          status: read.status,
          attempts: read.attempts,
          errors: read.errors,
          returnValue:
            read.status === TaskResultStatus.SUCCESSFUL
              ? read.returnValue
              : null,
          executions: tasks.executions.get(result.id),
          finished: events.counts.get(result.id),
        }).toEqual({
          status: TaskResultStatus.SUCCESSFUL,
          attempts: 1,
          errors: [],
          returnValue: durations[i],
          executions: 1,
          finished: 1,
        });
      }
      expect(tasks.aborted).toEqual([]);
      // The workers went on rescuing after the outage, and took nothing.
      expect(rescues.calls.some((call) => call.startedAt > endedAt)).toBe(true);
      expect(
        rescues.calls.reduce((sum, call) => sum + (call.rescued ?? 0), 0),
      ).toBe(0);
      expect(logs.matching('no longer held')).toEqual([]);
      expect(logs.matching('was discarded')).toEqual([]);
      if (server) {
        // Logged once per worker when it begins, once when it ends.
        expect(logs.matching('cannot be reached')).toHaveLength(2);
        expect(logs.matching('answers again')).toHaveLength(2);
        expect(proxy!.refused).toBeGreaterThan(0);
      }
    }, 90_000);
  },
);
