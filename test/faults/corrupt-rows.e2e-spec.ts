import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  captureLogs,
  copyRow,
  FaultTasks,
  FinishedEvents,
  sqlOn,
  type CapturedLogs,
} from '../support/faults.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

const HEALTHY = 6;
/** A batch worker that takes longer than this to drain nine rows is stuck. */
const DRAIN_LIMIT_MS = 15_000;

/**
 * READY rows whose stored JSON is corrupt (written by hand, by a bad
 * migration, by another program) among healthy ones, all claimable in the
 * same claim. A claim must not choke on them: the corrupt rows are marked
 * FAILED with the reason, the healthy ones run, and a batch worker exits.
 *
 * Fails on claims that parse the stored JSON: the claim that returns a
 * corrupt row throws after marking every row it took RUNNING, so the
 * healthy rows of that claim are never run (left RUNNING), the failure is
 * logged as the database being unreachable, and the corrupt rows are never
 * marked FAILED.
 */
describe.each(availableDatabases())(
  'corrupt stored rows beside healthy ones on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_fault_corrupt');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: FaultTasks;
    let events: FinishedEvents;
    let logs: CapturedLogs;
    const sql = (text: string, params?: unknown[]) =>
      sqlOn(db.name, (t, p) => ds.query(t, p))(text, params);

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        leaseMs: 1500,
        providers: [FaultTasks, FinishedEvents],
      });
      logs = captureLogs();
      queue = moduleRef.get(TaskQueue);
      tasks = moduleRef.get(FaultTasks);
      events = moduleRef.get(FinishedEvents);
    });

    afterAll(async () => {
      try {
        await moduleRef?.close();
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    const copy = (id: string, overrides: Record<string, string>) =>
      copyRow(sql, table, id, overrides);

    it('fails the corrupt rows naming the column, runs the healthy ones, and the batch worker exits', async () => {
      const healthy = await queue
        .task(FaultTasks, 'add')
        .enqueueMany(Array.from({ length: HEALTHY }, (_, i) => [i, 1]));
      const badWorkerIds = await copy(healthy[0].id, {
        worker_ids: `'not json'`,
      });
      const badArgs = await copy(healthy[1].id, { args: `'{oops'` });
      const rows: { status: string }[] = await ds.query(
        `SELECT status FROM ${table}`,
      );
      expect(rows.map((row) => row.status)).toEqual(
        Array(HEALTHY + 2).fill(TaskResultStatus.READY),
      );

      // One claim takes every row, corrupt and healthy alike.
      const worker = batchWorker(moduleRef, { concurrency: 16 });
      let timer: NodeJS.Timeout | undefined;
      const exit = await Promise.race([
        worker.run(),
        new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('still running'), DRAIN_LIMIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (exit === 'still running') {
        worker.abort();
        throw new Error(
          `the batch worker did not exit within ${DRAIN_LIMIT_MS} ms; it logged:\n${logs.problems()}`,
        );
      }
      expect(exit).toBe('drained');

      for (const [i, result] of healthy.entries()) {
        const read = await queue.getResult(result.id);
        expect([
          read.status,
          read.status === TaskResultStatus.SUCCESSFUL ? read.returnValue : null,
        ]).toEqual([TaskResultStatus.SUCCESSFUL, i + 1]);
        expect(tasks.executions.get(result.id)).toBe(1);
      }
      for (const [id, column] of [
        [badWorkerIds, 'worker_ids'],
        [badArgs, 'args'],
      ]) {
        const read = await queue.getResult(id);
        expect(read.status).toBe(TaskResultStatus.FAILED);
        expect(read.attempts).toBe(1);
        expect(read.errors).toHaveLength(1);
        expect(read.errors[0].message).toMatch(
          new RegExp(
            `Stored row of task 'FaultTasks\\.add' cannot be run: .*column ${column} is not valid JSON`,
          ),
        );
        expect(tasks.executions.has(id)).toBe(false);
        expect(events.counts.get(id)).toBe(1);
      }
      // No claim failed: nothing was taken for an unreachable database.
      expect(logs.matching('cannot be reached')).toEqual([]);
    }, 30_000);
  },
);
