import { jest } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  InvalidTaskError,
  TaskQueue,
  TaskResultStatus,
  TaskResultDoesNotExistError,
  TasksError,
  type ResultsAdmin,
  type TaskResultData,
} from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';
import { SEARCH_BOUND } from '../../lib/backends/database/result-store.js';
import { SqlConnection } from '../../lib/backends/database/sql-connection.js';
import { allPages, expectRefusedFilters } from '../support/results-admin.js';

const { READY, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/**
 * The dashboard's side of the backend administration on each database:
 * filtered keyset pages, activity buckets, retry of one result and of a
 * selection, cancel of a selection.
 */
describe.each(availableDatabases())(
  'ResultsAdmin on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_results');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let admin: ResultsAdmin;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [MathTasks],
      });
      queue = moduleRef.get(TaskQueue);
      admin = queue.backend().admin()!.results!;
      const add = queue.task(MathTasks, 'add');
      const fail = queue.task(MathTasks, 'fail');
      await add.enqueueMany([
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [5, 5],
      ]);
      await fail.enqueueMany([['one'], ['two'], ['three']]);
      await add.using({ queueName: 'other' }).enqueue(6, 6);
      await batchWorker(moduleRef).run();
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    it('lists every result newest first, page by page, without repeats', async () => {
      const pages = await allPages(admin, { limit: 4 });
      expect(pages.map((page) => page.length)).toEqual([4, 4, 1]);
      const args = pages.flat().map((result) => result.args);
      expect(args[0]).toEqual([6, 6]);
      expect(args.at(-1)).toEqual([1, 1]);
      expect(new Set(pages.flat().map((result) => result.id)).size).toBe(9);
    });

    it('filters by status, task, queue and id, and pages by finish time for a finished status', async () => {
      const failed = await allPages(admin, { status: FAILED, limit: 2 });
      expect(failed.map((page) => page.length)).toEqual([2, 1]);
      const finishedAt = failed.flat().map((r) => r.finishedAt!.getTime());
      expect([...finishedAt].sort((a, b) => b - a)).toEqual(finishedAt);
      expect(failed.flat().every((r) => r.status === FAILED)).toBe(true);
      expect(new Set(failed.flat().map((r) => r.id)).size).toBe(3);

      const adds = await admin.list({ taskName: 'MathTasks.add', limit: 50 });
      expect(adds.results).toHaveLength(6);
      const other = await admin.list({ queue: 'other', limit: 50 });
      expect(other.results.map((r) => r.args)).toEqual([[6, 6]]);
      const one = await admin.list({ id: other.results[0].id, limit: 50 });
      expect(one.results.map((r) => r.id)).toEqual([other.results[0].id]);
      const none = await admin.list({
        status: SUCCESSFUL,
        taskName: 'MathTasks.fail',
        limit: 50,
      });
      expect(none).toEqual({ results: [], next: null });
    });

    it('refuses a cursor that is not one of the list', async () => {
      await expect(admin.list({ limit: 2, after: 'nonsense' })).rejects.toThrow(
        /not a cursor/,
      );
      const byFinish = await admin.list({ status: FAILED, limit: 1 });
      await expect(
        admin.list({ limit: 1, after: byFinish.next! }),
      ).rejects.toThrow(/not a cursor/);
    });

    it('refuses, before the database does, a cursor beyond a safe integer and values no column holds', async () => {
      for (const after of [
        '9999999999999999999',
        '9007199254740993',
        '1.9999999999999999',
      ]) {
        const listed = admin.list({ limit: 1, after });
        await expect(listed).rejects.toThrow(TasksError);
        await expect(listed).rejects.not.toThrow(InvalidTaskError);
      }
      await expectRefusedFilters(admin, { longId: 37, longName: 101 });
    });

    it('leaves out of a bulk action the results finished or enqueued after its asOf', async () => {
      const failed = await admin.list({ status: FAILED, limit: 1 });
      expect(failed.results).toHaveLength(1);
      await expect(
        admin.retryMatching({ status: FAILED }, new Date(0)),
      ).resolves.toBe(0);
      await expect(
        admin.cancelMatching({ status: READY }, new Date(0)),
      ).resolves.toBe(0);
      const still = await admin.find(failed.results[0].id);
      expect(still?.status).toBe(FAILED);
    });

    it('counts the results finished in the last hour per bucket, queue and status', async () => {
      const buckets = await admin.activity(
        new Date(Date.now() - 3_600_000),
        60_000,
      );
      const total = (queue: string, status: string) =>
        buckets
          .filter((b) => b.queue === queue && b.status === status)
          .reduce((sum, b) => sum + b.count, 0);
      expect(total('default', SUCCESSFUL)).toBe(5);
      expect(total('default', FAILED)).toBe(3);
      expect(total('other', SUCCESSFUL)).toBe(1);
      for (const bucket of buckets)
        expect(bucket.start.getTime() % 60_000).toBe(0);
      expect(
        await admin.activity(new Date(Date.now() + 60_000), 60_000),
      ).toEqual([]);
    });

    it('retries a FAILED result as a new attempt of the same result, and refuses others', async () => {
      const [failed] = (await admin.list({ status: FAILED, limit: 1 })).results;
      const { result } = await admin.retry(failed.id);
      expect(result).toMatchObject({
        id: failed.id,
        status: READY,
        attempts: 1,
        maxAttempts: 2,
        finishedAt: null,
      });
      expect(result.errors).toHaveLength(1);
      await expect(admin.retry(failed.id)).rejects.toThrow(InvalidTaskError);
      await expect(admin.retry(failed.id)).rejects.toThrow(/is READY/);
      await expect(
        admin.retry('00000000-0000-0000-0000-000000000000'),
      ).rejects.toThrow(TaskResultDoesNotExistError);
      await batchWorker(moduleRef).run();
      const again = await queue.getResult(failed.id);
      expect(again.status).toBe(FAILED);
      expect(again.attempts).toBe(2);
      expect(again.errors).toHaveLength(2);
    });

    it('retries and cancels the results a filter selects', async () => {
      expect(
        await admin.retryMatching({
          taskName: 'MathTasks.fail',
          status: FAILED,
        }),
      ).toBe(3);
      expect(await admin.cancelMatching({ taskName: 'MathTasks.fail' })).toBe(
        3,
      );
      expect(
        (await admin.list({ status: CANCELLED, limit: 50 })).results,
      ).toHaveLength(3);
      expect(await admin.cancelMatching({ status: READY })).toBe(0);
      expect(await admin.retryMatching({ status: CANCELLED })).toBe(3);
      expect(await admin.cancelMatching({ status: READY })).toBe(3);
    });

    it('refuses to retry a unique result while another holds its key', async () => {
      const unique = queue
        .task(MathTasks, 'fail')
        .using({ uniqueKey: 'held', queueName: 'unique' });
      const failed = await unique.enqueue('first');
      await batchWorker(moduleRef, { queues: ['unique'] }).run();
      await failed.refresh();
      expect(failed.status).toBe(FAILED);
      const holder = await unique
        .using({ runAfter: new Date(Date.now() + 3_600_000) })
        .enqueue('second');
      await expect(admin.retry(failed.id)).rejects.toThrow(
        /another READY or RUNNING result holds its unique key "held"/,
      );
      expect(await admin.retryMatching({ queue: 'unique' })).toBe(0);
      await queue.cancel(holder.id);
      expect((await admin.retry(failed.id)).result.status).toBe(READY);
    });

    it('searches a bounded number of results for a task or queue, and goes on from where it stopped', async () => {
      const rare = await queue
        .task(MathTasks, 'fail')
        .using({ queueName: 'rare' })
        .enqueue('rare');
      await queue
        .task(MathTasks, 'add')
        .using({ queueName: 'bulk' })
        .enqueueMany(
          Array.from({ length: SEARCH_BOUND + 5 }, (_, i) => [i, i] as const),
        );
      for (const filter of [
        { queue: 'rare' },
        { queue: 'rare', taskName: 'MathTasks.fail', status: READY },
      ]) {
        const first = await admin.list({ ...filter, limit: 10 });
        expect(first).toEqual({
          results: [],
          next: expect.any(String),
          stoppedAfter: SEARCH_BOUND,
        });
        const second = await admin.list({
          ...filter,
          limit: 10,
          after: first.next!,
        });
        expect(second).toEqual({
          results: [expect.objectContaining({ id: rare.id })],
          next: null,
        });
      }
      const found = await admin.list({ queue: 'bulk', limit: 3 });
      expect(found.results.map((r) => r.args)).toEqual([
        [SEARCH_BOUND + 4, SEARCH_BOUND + 4],
        [SEARCH_BOUND + 3, SEARCH_BOUND + 3],
        [SEARCH_BOUND + 2, SEARCH_BOUND + 2],
      ]);
      expect(found.stoppedAfter).toBeUndefined();
    });

    it('searches every row between two pages once, whatever leaves the list between the reads of a page', async () => {
      await queue
        .task(MathTasks, 'add')
        .using({ queueName: 'race' })
        .enqueueMany(
          Array.from(
            { length: SEARCH_BOUND + 2000 },
            (_, i) => [i, i] as const,
          ),
        );
      const [{ top }] = await ds.query(`SELECT MAX(seq) AS top FROM ${table}`);
      const newest = Number(top);
      // In queue 'y': the 500 rows just beyond the first page's search.
      const deep = newest - SEARCH_BOUND;
      await ds.query(
        `UPDATE ${table} SET queue_name = 'y' WHERE seq BETWEEN ${deep - 499} AND ${deep}`,
      );
      const wanted = (
        await ds.query(`SELECT id FROM ${table} WHERE queue_name = 'y'`)
      ).map((row: { id: string }) => row.id);
      const read = SqlConnection.prototype.read;
      let claimed = false;
      const spy = jest
        .spyOn(SqlConnection.prototype, 'read')
        .mockImplementation(async function (this: SqlConnection, ...args) {
          const rows = await read.apply(this, args);
          if (!claimed) {
            claimed = true;
            // Workers take the 500 newest rows between the page's reads.
            await ds.query(
              `UPDATE ${table} SET status = 'RUNNING' WHERE seq > ${newest - 500}`,
            );
          }
          return rows;
        });
      let pages: TaskResultData[][];
      try {
        pages = await allPages(admin, { queue: 'y', status: READY, limit: 50 });
      } finally {
        spy.mockRestore();
      }
      expect(claimed).toBe(true);
      const found = pages.flat().map((result) => result.id);
      expect(found).toHaveLength(wanted.length);
      expect([...found].sort()).toEqual([...wanted].sort());
    });
  },
);
