import 'reflect-metadata';
import { jest } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { SqlBuilder } from '../../lib/backends/database/sql-builder.js';
import { encodeNewRow } from '../../lib/backends/database/task-row.js';
import {
  TaskStore,
  type ClaimPosition,
} from '../../lib/backends/database/task-store.js';
import type { ClaimedTask } from '../../lib/backends/worker-queue.js';
import { TaskQueue } from '../../lib/index.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { suiteTaskTable } from '../support/task-store.js';
import { planOf } from '../support/query-plans.js';
import { readyResult } from '../support/result-data.js';
import { bootTasksApp } from '../support/tasks-app.js';

/** Claim order: priority first (higher first), then due time, then enqueue order. */
const inClaimOrder = (a: ClaimPosition, b: ClaimPosition): number =>
  b.priority - a.priority ||
  a.availableAt - b.availableAt ||
  Number(a.seq) - Number(b.seq);

const positionOf = (row: Record<string, unknown>): ClaimPosition => ({
  priority: Number(row.priority),
  availableAt: Number(row.available_at),
  seq: String(row.seq),
});

/**
 * A claim that starts after a position takes the rows after it in claim
 * order, whatever their priority; where claims resume (see
 * `Dialect.claimedEntriesLinger`), through a range of the claim index.
 */
describe.each(availableDatabases())(
  'a claim after a position on $name',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_after', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      const now = Date.now();
      // Three priorities, each with due times shared by several rows.
      const rows = Array.from({ length: 300 }, (_, i) =>
        readyResult({
          taskName: 'After.probe',
          priority: (i % 3) - 1,
          args: [i],
          enqueuedAt: new Date(now - 10_000 + Math.floor(i / 7)),
        }),
      );
      await store.insert(rows.map(encodeNewRow));
    }, 60_000);

    it('takes the rows after it in claim order', async () => {
      const first = await store.claim('w', null, 130, 30_000);
      expect(first).toHaveLength(130);
      const after = first.map(positionOf).sort(inClaimOrder).at(-1)!;
      // In the middle priority: rows of the same priority and due time come before and after it.
      expect(after.priority).toBe(0);

      if (store.sql.dialect.claimedEntriesLinger) {
        // Where claims resume: a range of the claim index, in its order.
        const sql = new SqlBuilder(store.sql.dialect);
        const text = store.selectReady(sql, null, 1000, Date.now(), after);
        const plan = await planOf(db, ds, { text, params: sql.params });
        expect(plan).toMatch(new RegExp(`type=range key=${table}_claim `));
        expect(plan).not.toMatch(/filesort/);
      }

      const rest = await store.claim('w', null, 1000, 30_000, after);
      expect(rest).toHaveLength(170);
      const positions = rest.map(positionOf);
      expect(positions.every((p) => inClaimOrder(after, p) < 0)).toBe(true);
      const ids = new Set([...first, ...rest].map((row) => String(row.id)));
      expect(ids.size).toBe(300);
    });
  },
);

/**
 * Where claimed rows' index entries linger until a purge (InnoDB), a
 * worker's claims resume after its previous claim while they come back
 * full; from the head again when that finds too few, and at least every
 * quarter second, so that a task that comes before (a higher priority
 * enqueued meanwhile, a task handed back) waits no longer than that.
 */
describe.each(availableDatabases().filter((db) => db.name === 'mariadb'))(
  'resumed claims of a worker on $name',
  (db: TestDatabase) => {
    const tableName = uniqueTableName('t_resume');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let clock: number;

    beforeAll(async () => {
      ds = await openTestDataSource(db, tableName);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName,
        providers: [ConformanceTasks],
      });
      queue = moduleRef.get(TaskQueue);
    }, 60_000);

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, tableName);
    });

    beforeEach(() => {
      clock = 1_000_000;
      jest.spyOn(performance, 'now').mockImplementation(() => clock);
    });

    afterEach(() => jest.restoreAllMocks());

    it('resume after the last claim while it was full, and start at the head every quarter second and when too few are left', async () => {
      const record = queue.task(ConformanceTasks, 'record');
      const labels = Array.from({ length: 300 }, (_, i) => [`t${i}`]);
      await record.enqueueMany(labels as [string][]);
      const workers = queue.backend().workerQueue()!;
      await workers.registerWorker({
        workerId: 'w-resume',
        concurrency: 10,
        queues: null,
      });
      const ids = (claimed: ClaimedTask[]) =>
        claimed.map((task) => task.result.id);
      const claimed: string[] = [];
      try {
        const first = await workers.claim('w-resume', null, 100);
        expect(first).toHaveLength(100);
        claimed.push(...ids(first));
        // Before where the claims resume: a higher priority, and a task handed back.
        const urgent = await record.using({ priority: 10 }).enqueue('urgent');
        const [handedBack] = first;
        await workers.release!('w-resume', [
          { id: handedBack.result.id, attempt: handedBack.result.attempts },
        ]);

        clock += 100;
        const resumed = await workers.claim('w-resume', null, 100);
        expect(resumed).toHaveLength(100);
        expect(ids(resumed)).not.toContain(urgent.id);
        expect(ids(resumed)).not.toContain(handedBack.result.id);
        claimed.push(...ids(resumed));

        // A quarter second after the last claim from the head: from the head again, the urgent task first.
        clock += 200;
        const fromHead = await workers.claim('w-resume', null, 50);
        expect(fromHead).toHaveLength(50);
        expect(ids(fromHead).slice(0, 2)).toEqual([
          urgent.id,
          handedBack.result.id,
        ]);
        claimed.push(...ids(fromHead));

        // Handed back again, then a claim for more than is left after the resume point: the rest comes from the head.
        await workers.release!('w-resume', [
          { id: handedBack.result.id, attempt: handedBack.result.attempts },
        ]);
        clock += 10;
        const rest = await workers.claim('w-resume', null, 1000);
        expect(ids(rest)).toContain(handedBack.result.id);
        claimed.push(...ids(rest));
        clock += 10;
        expect(await workers.claim('w-resume', null, 1000)).toEqual([]);
      } finally {
        await workers.unregisterWorker('w-resume');
      }
      // Every task was claimed; only the one handed back twice, three times.
      expect(new Set(claimed).size).toBe(301);
      expect(claimed.filter((id) => id === claimed[0])).toHaveLength(3);
      expect(claimed).toHaveLength(303);
    });

    it('start at the head for a worker that takes some queues only', async () => {
      const record = queue
        .task(ConformanceTasks, 'record')
        .using({ queueName: 'some' });
      await record.enqueueMany(
        Array.from({ length: 100 }, (_, i) => [`s${i}`]) as [string][],
      );
      const workers = queue.backend().workerQueue()!;
      await workers.registerWorker({
        workerId: 'w-some',
        concurrency: 10,
        queues: ['some'],
      });
      try {
        const first = await workers.claim('w-some', ['some'], 40);
        expect(first).toHaveLength(40);
        const urgent = await record.using({ priority: 10 }).enqueue('urgent');
        clock += 10;
        const next = await workers.claim('w-some', ['some'], 40);
        expect(next[0].result.id).toBe(urgent.id);
      } finally {
        await workers.unregisterWorker('w-some');
      }
    });
  },
);
