import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
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
  lockTable,
  sleep,
  watchRescues,
  Workers,
  type CapturedLogs,
} from '../support/faults.js';
import { waitFor } from '../support/wait.js';

const LEASE_MS = 1500;
const TASKS = 5;

/**
 * A lock on the tasks table (a migration, VACUUM FULL, a backup tool) held
 * for two leases while two workers are live: worker `lock-holder` runs five
 * tasks, worker `lock-other` has none and keeps trying to rescue. Every
 * heartbeat, claim and rescue waits behind the lock, and by the database's
 * clock every lease runs out. When the lock goes, the holder is still alive
 * and must keep its tasks.
 *
 * Fails on the old liveness rules (checked by making the lease be computed
 * from the host's clock and dropping the session-lock / process check): the
 * holder's heartbeat, sent before the lock and executed after it, writes a
 * lease already past, and the other worker's rescue, queued behind the
 * same lock, takes the five tasks: they end FAILED with
 * TaskInterruptedError (no attempt left), never SUCCESSFUL.
 */
describe.each(availableDatabases())(
  'a table lock held past the lease on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_lock');
    let ds: DataSource;
    let lockDs: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: FaultTasks;
    let events: FinishedEvents;
    let logs: CapturedLogs;
    const workers = new Workers();

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      lockDs = await connectTestDataSource(db, table);
      ({ moduleRef, queue, tasks, events, logs } = await bootFaultApp(
        ds,
        table,
        LEASE_MS,
      ));
    });

    afterEach(async () => {
      tasks.gate.release();
      await workers.abortAll();
    });

    afterAll(async () => {
      try {
        await moduleRef?.close();
        if (lockDs?.isInitialized) await lockDs.destroy();
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    it('leaves the tasks with their live worker: each runs once, SUCCESSFUL on attempt 1, finished once', async () => {
      const results = await queue
        .task(FaultTasks, 'gated')
        .enqueueMany(Array.from({ length: TASKS }, (_, i) => [`task ${i}`]));
      const rescues = watchRescues(moduleRef);
      workers.start(moduleRef, {
        workerId: 'lock-holder',
        concurrency: TASKS,
      });
      await waitFor('all five tasks to run', () => tasks.total === TASKS);
      workers.start(moduleRef, { workerId: 'lock-other', concurrency: TASKS });
      await waitFor('the other worker to try a rescue', () =>
        rescues.calls.some((call) => call.rescuer === 'lock-other'),
      );

      const lock = await lockTable(db, lockDs, table);
      let expiredUnderLock = 0;
      let releasedAt: number;
      try {
        // The fault is real: by the database's clock every lease runs out.
        await waitFor(
          'the leases to run out under the lock',
          async () => {
            const [row] = await lock.query(expiredLeasesSql(db.name, table));
            expiredUnderLock = Number(row.n);
            return expiredUnderLock === TASKS;
          },
          4 * LEASE_MS,
        );
        while (lock.heldMs() < 2 * LEASE_MS) await sleep(50);
      } finally {
        await lock.release();
        releasedAt = Date.now();
      }
      expect(expiredUnderLock).toBe(TASKS);

      // The tasks go on for two more leases: time enough for any rescue.
      await sleep(2 * LEASE_MS);
      tasks.gate.release();
      await waitFor(
        'all five to be recorded',
        async () => (await countRunning(ds, table)) === 0,
        20_000,
      );
      expect(await workers.stopAll()).toEqual(['drained', 'drained']);
      rescues.restore();

      for (const result of results) {
        const read = await queue.getResult(result.id);
        expect({
          status: read.status,
          attempts: read.attempts,
          errors: read.errors,
          workerIds: read.workerIds,
          executions: tasks.executions.get(result.id),
          finished: events.counts.get(result.id),
        }).toEqual({
          status: TaskResultStatus.SUCCESSFUL,
          attempts: 1,
          errors: [],
          workerIds: ['lock-holder'],
          executions: 1,
          finished: 1,
        });
      }
      expect(tasks.aborted).toEqual([]);
      expect(logs.matching('no longer held')).toEqual([]);
      expect(logs.matching('was discarded')).toEqual([]);
      expect(
        rescues.calls.reduce((sum, call) => sum + (call.rescued ?? 0), 0),
      ).toBe(0);
      // The other worker was at its rescue the moment the lock went, when
      // the holder's leases were still expired: where the server makes
      // statements wait (PostgreSQL, MariaDB) its heartbeat was queued
      // behind the lock and it went on to rescue as soon as it was let
      // through. (SQLite readers do not wait in WAL mode.)
      if (db.name !== 'sqlite') {
        expect(
          rescues.calls.some(
            (call) =>
              call.rescuer === 'lock-other' &&
              call.startedAt < releasedAt + LEASE_MS / 3 &&
              (call.endedAt ?? Infinity) >= releasedAt,
          ),
        ).toBe(true);
      }
    }, 60_000);
  },
);
