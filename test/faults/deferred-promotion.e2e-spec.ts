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
  copyRow,
  FaultTasks,
  FinishedEvents,
  lockTable,
  sleep,
  sqlOn,
  Workers,
  type CapturedLogs,
  type TableLock,
} from '../support/faults.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

const LEASE_MS = 1500;
const { SUCCESSFUL, FAILED } = TaskResultStatus;

/**
 * Deferred tasks (stored SCHEDULED, promoted to READY by the workers once
 * due) under the faults of the other suites of this folder: a table lock
 * and an outage while they fall due, and corrupt deferred rows.
 */
describe.each(availableDatabases())(
  'deferred tasks falling due under faults on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_deferred');
    const server = db.name !== 'sqlite';
    let ds: DataSource;
    let sideDs: DataSource;
    let workerDs: DataSource;
    let proxy: TcpProxy | undefined;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: FaultTasks;
    let events: FinishedEvents;
    let logs: CapturedLogs;
    /** Calls of `promoteDue` by the workers of this app. */
    let promotions = 0;
    const workers = new Workers();
    const sql = (text: string, params?: unknown[]) =>
      sqlOn(db.name, (t, p) => ds.query(t, p))(text, params);

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      // A connection of its own: locks the table (SQLite: the file).
      sideDs = await connectTestDataSource(db, table);
      if (server) {
        const { port } = db.options as { port: number };
        proxy = await TcpProxy.start(port);
        workerDs = await connectTestDataSource(db, table, {
          host: '127.0.0.1',
          port: proxy.port,
        } as Partial<DataSourceOptions>);
      } else workerDs = ds;
      ({ moduleRef, queue, tasks, events, logs } = await bootFaultApp(
        workerDs,
        table,
        LEASE_MS,
      ));
      const workerQueue = queue.backend().workerQueue()!;
      const promoteDue = workerQueue.promoteDue!.bind(workerQueue);
      workerQueue.promoteDue = async (limit) => {
        promotions++;
        return promoteDue(limit);
      };
    });

    afterEach(async () => {
      proxy?.restore();
      await workers.abortAll();
      await ds.query(`DELETE FROM ${table}`);
      tasks.executions.clear();
      events.counts.clear();
      logs.lines.length = 0;
    });

    afterAll(async () => {
      proxy?.restore();
      try {
        await moduleRef?.close();
        if (workerDs !== ds && workerDs?.isInitialized)
          await workerDs.destroy();
        if (sideDs?.isInitialized) await sideDs.destroy();
        await proxy?.close();
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    /** Stored status by result id. */
    const storedStatuses = async (): Promise<Map<string, string>> =>
      new Map(
        (await ds.query(`SELECT id, status FROM ${table}`)).map(
          (row: { id: string; status: string }) => [row.id, row.status],
        ),
      );

    /** A worker polling every 100 ms, once its first promotion pass has read the store. */
    const startWorker = async (workerId: string, concurrency = 1) => {
      const before = promotions;
      workers.start(moduleRef, { workerId, concurrency, intervalMs: 100 });
      await waitFor('the first promotion pass', () => promotions > before);
    };

    /**
     * Six deferred tasks falling due one after another, each of a higher
     * priority than the last, all due by `dueBy` (epoch ms).
     */
    const enqueueRising = async (firstDue: number, dueBy: number) => {
      const step = (dueBy - firstDue) / 5;
      const add = queue.task(FaultTasks, 'add');
      const results = [];
      for (let i = 0; i < 6; i++)
        results.push(
          await add
            .using({
              priority: i + 1,
              runAfter: new Date(firstDue + i * step),
            })
            .enqueue(i, 0),
        );
      return results;
    };

    const expectRanOnce = async (ids: readonly string[]) => {
      await waitFor(
        'the deferred tasks to be recorded',
        async () => {
          const read = await Promise.all(ids.map((id) => queue.getResult(id)));
          return read.every((result) => result.status === SUCCESSFUL);
        },
        30_000,
      );
      // A lease more: a task promoted or claimed twice would run again now.
      await sleep(LEASE_MS);
      for (const id of ids) {
        const read = await queue.getResult(id);
        expect({
          status: read.status,
          attempts: read.attempts,
          executions: tasks.executions.get(id),
          finished: events.counts.get(id),
        }).toEqual({
          status: SUCCESSFUL,
          attempts: 1,
          executions: 1,
          finished: 1,
        });
      }
    };

    /**
     * Guards against deferred tasks lost, run twice, or run out of priority
     * order after a lock on the tasks table (a migration, VACUUM FULL, a
     * backup) held past the lease while they fall due: every pass, claim
     * and heartbeat of the worker waits behind the lock meanwhile, and once
     * it goes the six tasks, all due, must run once each, the highest
     * priority first (the worker runs one at a time).
     */
    it('runs the deferred tasks that fell due under a table lock once each, highest priority first', async () => {
      const lockAt = Date.now() + 1000;
      const results = await enqueueRising(lockAt + 300, lockAt + LEASE_MS);
      await startWorker('deferred-lock');
      await sleep(lockAt - Date.now());
      const lock: TableLock = await lockTable(db, sideDs, table);
      let statusesUnderLock: string[] = [];
      try {
        while (lock.heldMs() < 2 * LEASE_MS) await sleep(50);
        statusesUnderLock = (
          await lock.query(`SELECT status FROM ${table}`)
        ).map((row: { status: string }) => row.status);
      } finally {
        await lock.release();
      }
      // The fault is real: they all fell due, and none was promoted under the lock.
      expect(statusesUnderLock).toEqual(Array(6).fill('SCHEDULED'));

      await expectRanOnce(results.map((result) => result.id));
      expect([...tasks.executions.keys()]).toEqual(
        results.map((result) => result.id).reverse(),
      );
    }, 60_000);

    /**
     * Guards against one deferred row held by a long transaction (an
     * operator's UPDATE left open, a tool that locked it) past the lease
     * stopping the others, or being lost or run twice: the workers promote
     * around it (SKIP LOCKED), and it once the transaction ends. SQLite has
     * no row locks: a write transaction there holds the whole file, as the
     * table lock above does.
     */
    (server ? it : it.skip)(
      `promotes around a due row a long transaction holds, and it once released${
        server ? '' : ' [skipped: SQLite locks the whole file, not rows]'
      }`,
      async () => {
        const dueAt = Date.now() + 800;
        const results = await enqueueRising(dueAt, dueAt + 300);
        const [held] = results;
        await startWorker('deferred-held-a', 3);
        await startWorker('deferred-held-b', 3);
        const runner = sideDs.createQueryRunner();
        await runner.connect();
        const others = results.slice(1).map((result) => result.id);
        let passes = 0;
        let windowMs = 0;
        try {
          await runner.startTransaction();
          await runner.query(
            `UPDATE ${table} SET metadata = metadata WHERE id = '${held.id}'`,
          );
          const since = Date.now();
          // The fault is real: the transaction holds the row while it is deferred.
          const [row] = await runner.query(
            `SELECT status FROM ${table} WHERE id = '${held.id}'`,
          );
          expect(row.status).toBe('SCHEDULED');
          await waitFor('the others to run', () =>
            others.every((id) => tasks.executions.get(id) === 1),
          );
          const before = { passes: promotions, at: Date.now() };
          await sleep(Math.max(0, since + 2 * LEASE_MS - Date.now()));
          passes = promotions - before.passes;
          windowMs = Date.now() - before.at;
          expect(tasks.executions.has(held.id)).toBe(false);
        } finally {
          await runner.rollbackTransaction().catch(() => undefined);
          await runner.release();
        }
        // Looked at again once per polling interval (100 ms), not in a loop:
        // a held row is no reason to pass more often.
        expect(passes).toBeLessThanOrEqual(2 * (windowMs / 100 + 2));
        await expectRanOnce(results.map((result) => result.id));
      },
      60_000,
    );

    /**
     * Guards against a promotion that waited behind a lock (PostgreSQL and
     * MariaDB: its read of the next due time; SQLite: its write, tried
     * again while busy) promoting only what was due when it began: the
     * rows that fell due meanwhile would be promoted by the next pass, and
     * a worker claiming in between would run the first due before the
     * higher priority ones (the case the test above sees now and then).
     */
    it('promotes in one call every row due by the time a promotion gets past a lock', async () => {
      const lockAt = Date.now() + 500;
      const results = await enqueueRising(lockAt + 300, lockAt + LEASE_MS);
      await sleep(lockAt - Date.now());
      const lock: TableLock = await lockTable(db, sideDs, table);
      let promoting: Promise<{ promoted: number }> | undefined;
      try {
        await sleep(lockAt + 400 - Date.now());
        promoting = queue.backend().workerQueue()!.promoteDue!(1000);
        promoting.catch(() => undefined);
        await sleep(lockAt + LEASE_MS + 200 - Date.now());
      } finally {
        await lock.release();
      }
      expect((await promoting!).promoted).toBe(results.length);
    });

    /**
     * Guards against a worker that stops promoting (or promotes twice) after
     * the database was unreachable for two leases while deferred tasks fell
     * due: PostgreSQL and MariaDB behind a proxy that resets every
     * connection and refuses new ones, SQLite behind an exclusive lock on
     * its file. Once it answers again, the worker promotes and runs each
     * task once, and logs the outage once.
     */
    it('promotes and runs the deferred tasks that fell due during an outage once each', async () => {
      const cutAt = Date.now() + 1000;
      const results = await enqueueRising(cutAt + 300, cutAt + LEASE_MS);
      await startWorker('deferred-outage-a', 3);
      await startWorker('deferred-outage-b', 3);
      await sleep(cutAt - Date.now());
      let lock: TableLock | undefined;
      if (proxy) proxy.cut();
      else lock = await lockTable(db, sideDs, table);
      const began = Date.now();
      let statuses: string[] = [];
      try {
        await sleep(2 * LEASE_MS);
        statuses = (
          await (
            lock ? lock.query.bind(lock) : (text: string) => ds.query(text)
          )(`SELECT status FROM ${table} WHERE available_at <= ${Date.now()}`)
        ).map((row: { status: string }) => row.status);
      } finally {
        proxy?.restore();
        await lock?.release();
      }
      expect(Date.now() - began).toBeGreaterThanOrEqual(2 * LEASE_MS);
      // The fault is real: they all fell due, and none was promoted during the outage.
      expect(statuses).toEqual(Array(6).fill('SCHEDULED'));

      await expectRanOnce(results.map((result) => result.id));
      if (server) {
        expect(logs.matching('cannot be reached')).toHaveLength(2);
        expect(logs.matching('answers again')).toHaveLength(2);
        expect(proxy!.refused).toBeGreaterThan(0);
      }
    }, 60_000);

    const copy = (id: string, overrides: Record<string, string>) =>
      copyRow(sql, table, id, overrides);

    /**
     * Guards against corrupt deferred rows (written by hand, by a bad
     * migration, by another program) among healthy ones choking the
     * promotion, or keeping the workers promoting in a loop. They are
     * treated as corrupt READY rows are: promoted with the others, then
     * FAILED by the claim with the reason (JSON that does not parse, a task
     * this process does not know); a priority out of the enqueue's range or
     * a due time long past is no reason not to run; a due time that never
     * comes (the largest bigint; on SQLite, text in the column) leaves the
     * row deferred, looked at once per polling pass like any other.
     */
    it('promotes corrupt deferred rows beside healthy ones without choking or looping, and fails those that cannot run naming why', async () => {
      const add = queue.task(FaultTasks, 'add');
      const template = await add
        .using({ runAfter: new Date(Date.now() + 3_600_000) })
        .enqueue(0, 0);
      const dueSoon = Date.now() + 1500;
      const healthy = [];
      for (let i = 1; i <= 4; i++)
        healthy.push(
          await add.using({ runAfter: new Date(dueSoon) }).enqueue(i, 1),
        );
      const due = String(dueSoon);
      const runs = {
        longPast: await copy(template.id, { available_at: '0' }),
        negative: await copy(template.id, { available_at: '-1' }),
        priorityHigh: await copy(template.id, {
          priority: '1000000',
          available_at: due,
        }),
        priorityLow: await copy(template.id, {
          priority: '-1000000',
          available_at: due,
        }),
      };
      const fails = {
        args: await copy(template.id, {
          args: `'{oops'`,
          available_at: due,
        }),
        taskName: await copy(template.id, {
          task_name: `'Gone.task'`,
          available_at: due,
        }),
      };
      const largest = await copy(template.id, {
        available_at: '9223372036854775807',
      });
      const never = [
        largest,
        ...(db.name === 'sqlite'
          ? [await copy(template.id, { available_at: `'soon'` })]
          : []),
      ];
      // No row is deferred without a due time: the column refuses NULL.
      await expect(
        copy(template.id, { available_at: 'NULL' }),
      ).rejects.toThrow();
      await ds.query(`DELETE FROM ${table} WHERE id = '${template.id}'`);
      const stored = await storedStatuses();
      expect(
        [...stored.values()].every((status) => status === 'SCHEDULED'),
      ).toBe(true);

      await startWorker('deferred-corrupt', 4);
      const ran = [
        ...healthy.map((result) => result.id),
        ...Object.values(runs),
      ];
      const ended = [...ran, ...Object.values(fails)];
      await waitFor(
        'every row but the never-due ones to end',
        async () => {
          const read = await Promise.all(
            ended.map((id) => queue.getResult(id)),
          );
          return read.every(
            (result) =>
              result.status === SUCCESSFUL || result.status === FAILED,
          );
        },
        20_000,
      );
      // Two seconds of polling every 100 ms: twenty passes or so, not a
      // loop; and again once the only row left deferred (SQLite) holds text.
      const passesIn2s = async () => {
        const before = promotions;
        await sleep(2000);
        return promotions - before;
      };
      expect(await passesIn2s()).toBeLessThan(60);
      const after = await storedStatuses();
      for (const id of never) expect(after.get(id)).toBe('SCHEDULED');
      await ds.query(`DELETE FROM ${table} WHERE id = '${largest}'`);
      expect(await passesIn2s()).toBeLessThan(60);

      for (const id of ran) {
        const read = await queue.getResult(id);
        expect([
          id,
          read.status,
          read.attempts,
          tasks.executions.get(id),
        ]).toEqual([id, SUCCESSFUL, 1, 1]);
      }
      const failure = async (id: string) => {
        const read = await queue.getResult(id);
        expect([read.status, read.attempts, tasks.executions.has(id)]).toEqual([
          FAILED,
          1,
          false,
        ]);
        expect(events.counts.get(id)).toBe(1);
        return read.errors.map((error) => error.message).join('\n');
      };
      expect(await failure(fails.args)).toMatch(
        /Stored row of task 'FaultTasks\.add' cannot be run: .*column args is not valid JSON/,
      );
      expect(await failure(fails.taskName)).toMatch(
        /Task 'Gone\.task' is not registered in this process/,
      );
      expect(logs.matching('cannot be reached')).toEqual([]);
    }, 60_000);
  },
);
