import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ALL_QUEUES } from '../../lib/backends/backend-admin.js';
import { ScheduleStore } from '../../lib/backends/database/schedule-store.js';
import { SqlConnection } from '../../lib/backends/database/sql-connection.js';
import {
  EXACT_COUNT_LIMIT,
  StatusCounts,
} from '../../lib/backends/database/status-counts.js';
import { encodeNewRow } from '../../lib/backends/database/task-row.js';
import { TaskStore } from '../../lib/backends/database/task-store.js';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';
import {
  analyze,
  concat,
  freshId,
  insertNumberedRows,
} from '../support/bulk-rows.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { sqlConnectionOf, suiteTaskTable } from '../support/task-store.js';
import {
  planOf,
  recordStatements,
  wholeTableReads,
  type Statement,
} from '../support/query-plans.js';
import { readyResult } from '../support/result-data.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;

/** Rows of the tasks table: enough that a scan of it costs more than any index lookup. */
const ROWS = 200_000;
/** Rows of the schedules table (periodic tasks). */
const SCHEDULES = 20_000;
const SECOND = 1000;

/**
 * Per hundred rows: 2 READY, 1 RUNNING (of a live worker or a gone one,
 * its lease run out), 10 FAILED, 2 CANCELLED and 85 SUCCESSFUL.
 */
const STATUS_OF_ROW =
  `CASE WHEN i % 100 < 2 THEN '${READY}' WHEN i % 100 < 3 THEN '${RUNNING}' ` +
  `WHEN i % 100 < 13 THEN '${FAILED}' WHEN i % 100 < 15 THEN '${CANCELLED}' ELSE '${SUCCESSFUL}' END`;
const expected = (status: TaskResultStatus) => {
  const per100 = { READY: 2, RUNNING: 1, FAILED: 10, CANCELLED: 2 } as const;
  const share =
    status === SUCCESSFUL ? 85 : per100[status as keyof typeof per100];
  return (ROWS / 100) * share;
};

/** A task row as an enqueue writes it. */
function newRow(overrides: Partial<TaskResultData>): TaskResultData {
  return readyResult({ taskName: 'Plans.unique', ...overrides });
}

/**
 * The statements that run often, EXPLAINed on a table of 200,000 results
 * on each database with its statistics up to date: none reads the tasks
 * table (or the schedules table) whole, row after row. A plan that
 * degrades to a full scan fails here, naming the statement.
 */
describe.each(availableDatabases())(
  'query plans on a large table on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_plans');
    const start = Date.now() - ROWS * SECOND - 3_600_000;
    let ds: DataSource;
    let sql: SqlConnection;
    let store: TaskStore;

    /** Each statement `work` sends, with the plan of each that reads a table whole. */
    async function wholeReadsOf(work: () => Promise<unknown>) {
      const { statements } = await recordStatements(ds, work);
      expect(statements.length).toBeGreaterThan(0);
      return planned(statements);
    }

    async function planned(statements: readonly Statement[]) {
      const found: { statement: string; plan: string }[] = [];
      for (const statement of statements) {
        const plan = await planOf(db, ds, statement);
        if (wholeTableReads(db, plan, [table, `${table}_schedules`]).length > 0)
          found.push({ statement: statement.text, plan });
      }
      return found;
    }

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      sql = sqlConnectionOf(ds, table);
      store = new TaskStore(sql);
      const at = (offset: string) => `${start} + i * ${SECOND}${offset}`;
      const ready = 'i % 100 < 2';
      const running = 'i % 100 = 2';
      await insertNumberedRows(
        ds,
        db.name,
        table,
        {
          id: freshId(db.name),
          task_name: `CASE WHEN i % 3 = 0 THEN 'Plans.a' WHEN i % 3 = 1 THEN 'Plans.b' ELSE 'Plans.c' END`,
          backend: "'default'",
          queue_name: `CASE WHEN i % 3 = 0 THEN 'emails' ELSE 'default' END`,
          priority: 'i % 5',
          status: STATUS_OF_ROW,
          args: "'[]'",
          available_at: at(''),
          enqueued_at: at(''),
          started_at: `CASE WHEN ${ready} THEN NULL ELSE ${at(' + 1')} END`,
          finished_at: `CASE WHEN i % 100 < 3 THEN NULL ELSE ${at(' + 5')} END`,
          last_attempted_at: `CASE WHEN ${ready} THEN NULL ELSE ${at(' + 1')} END`,
          attempts: `CASE WHEN ${ready} THEN 0 ELSE 1 END`,
          max_attempts: '1',
          worker_ids: "'[]'",
          errors: "'[]'",
          metadata: "'{}'",
          worker_id: `CASE WHEN ${running} THEN (CASE WHEN i % 200 = 2 THEN 'w-live' ELSE 'w-gone' END) END`,
          lease_expires_at: `CASE WHEN ${running} THEN (CASE WHEN i % 200 = 2 THEN ${Date.now() + 3_600_000} ELSE ${at('')} END) END`,
        },
        ROWS,
      );
      await insertNumberedRows(
        ds,
        db.name,
        `${table}_schedules`,
        {
          task_name: concat(db.name, "'Plans.tick-'", 'i'),
          last_tick: String(start),
        },
        SCHEDULES,
      );
      await analyze(ds, db.name, table);
      await analyze(ds, db.name, `${table}_schedules`);
    }, 300_000);

    afterAll(() => closeTestDataSource(db, ds, table));

    /** The `offset`-th row of `status` (held by `workerId`), as stored; read before the statements are recorded. */
    async function rowOf(
      status: TaskResultStatus,
      offset: number,
      workerId?: string,
    ) {
      const [row] = await ds.query(
        `SELECT id, attempts FROM ${table} WHERE status = '${status}'` +
          (workerId ? ` AND worker_id = '${workerId}'` : '') +
          ` ORDER BY seq LIMIT 1 OFFSET ${offset}`,
      );
      return { id: String(row.id), attempt: Number(row.attempts) };
    }

    /** A row of its own for each test that changes one. */
    type Held = { id: string; attempt: number };
    const none = async () => null;
    it.each<[string, () => Promise<unknown>, (row: any) => Promise<unknown>]>([
      [
        'the rescue of expired leases',
        none,
        async () => {
          const expired = await store.expired('rescuer', 20);
          expect(expired.length).toBeGreaterThan(0);
          await store.complete(
            expired.map((row) => ({
              id: String(row.id),
              workerId: String(row.worker_id),
              attempt: Number(row.attempts),
              status: FAILED,
              finishedAt: Date.now(),
              returnValue: null,
              errors: '[]',
              workerIds: '[]',
              availableAt: null,
            })),
            'rescuer',
          );
        },
      ],
      [
        "a worker's look for its own orphans",
        none,
        () => store.orphaned('w-gone', 20),
      ],
      [
        'the heartbeat that extends leases',
        () => rowOf(RUNNING, 0, 'w-live'),
        async (row: Held) => {
          const { held } = await store.extendLeases('w-live', [row], 30_000);
          expect(held.has(row.id)).toBe(true);
        },
      ],
      [
        'the release of claims never started',
        () => rowOf(RUNNING, 1, 'w-live'),
        (row: Held) => store.release('w-live', [row]),
      ],
      [
        'progress saved by a running task',
        () => rowOf(RUNNING, 2, 'w-live'),
        (row: Held) => store.saveProgress(row.id, 'w-live', 0.5, '{}'),
      ],
      [
        'the unique-key check of an enqueue',
        none,
        async () => {
          const key = randomUUID();
          const [first, second] = [0, 1].map(() =>
            encodeNewRow(newRow({ uniqueKey: key })),
          );
          await store.insertUnique([first]);
          const holders = await store.insertUnique([second]);
          expect(holders.get(String(second.id))?.id).toBe(first.id);
        },
      ],
      [
        'getResult by id',
        () => rowOf(SUCCESSFUL, 0),
        async (row: Held) =>
          expect((await store.find(row.id))?.id).toBe(row.id),
      ],
      [
        'a cancel by id',
        () => rowOf(READY, 0),
        (row: Held) => store.cancel(row.id),
      ],
      [
        'the tick of a periodic task',
        none,
        () =>
          sql.withRunner(async (runner) => {
            const schedules = new ScheduleStore(sql);
            expect(
              await schedules.advance(runner, 'Plans.tick-77', Date.now()),
            ).toBe(true);
            await schedules.start(runner, 'Plans.tick-78', Date.now());
          }),
      ],
      [
        "prune's batches",
        none,
        async () =>
          expect(
            await store.prune([SUCCESSFUL, FAILED], start + 3000 * SECOND, 500),
          ).toBeGreaterThan(1000),
      ],
      [
        "prune's dry run",
        none,
        () =>
          new StatusCounts(sql).finishedBefore(
            [SUCCESSFUL, FAILED, CANCELLED],
            start + (ROWS / 2) * SECOND,
          ),
      ],
      ["the status's counts", none, () => new StatusCounts(sql).counts()],
      [
        'the oldest due READY task of a health check',
        none,
        () => store.oldestDueReady(Date.now()),
      ],
    ])('%s reads no table whole', async (_what, prepare, work) => {
      const row = await prepare();
      expect(await wholeReadsOf(() => work(row))).toEqual([]);
    });

    it('would catch a statement that reads the table whole', async () => {
      const unindexed = `SELECT id FROM ${table} WHERE args = '[1]'`;
      const plan = await planOf(db, ds, { text: unindexed, params: [] });
      expect(wholeTableReads(db, plan, [table])).not.toEqual([]);
    });

    it('counts READY and RUNNING rows exactly per queue, and estimates the finished statuses beyond the limit', async () => {
      const counts = await new StatusCounts(sql).counts();
      const of = (status: TaskResultStatus) =>
        counts.filter((count) => count.status === status);
      const exact = (status: TaskResultStatus) =>
        of(status).reduce((sum, count) => sum + count.count, 0);
      for (const status of [READY, RUNNING]) {
        expect(of(status).map((count) => count.precision)).toEqual([
          'exact',
          'exact',
        ]);
        expect(of(status).map((count) => count.queue)).toEqual([
          'default',
          'emails',
        ]);
      }
      // The rows the other tests of this table changed are among them.
      expect(Math.abs(exact(READY) - expected(READY))).toBeLessThan(50);
      expect(Math.abs(exact(RUNNING) - expected(RUNNING))).toBeLessThan(50);
      for (const status of [SUCCESSFUL, FAILED]) {
        const [count] = of(status);
        expect(of(status)).toHaveLength(1);
        expect(count.queue).toBe(ALL_QUEUES);
        if (db.name === 'sqlite') {
          // SQLite keeps no statistics to estimate by: counting stopped.
          expect(count).toMatchObject({
            count: EXACT_COUNT_LIMIT,
            precision: 'more-than',
          });
        } else {
          expect(count.precision).toBe('estimate');
          expect(count.count).toBeGreaterThan(expected(status) / 3);
          expect(count.count).toBeLessThan(expected(status) * 3);
        }
      }
      expect(of(CANCELLED).every((count) => count.precision === 'exact')).toBe(
        true,
      );
    });
  },
);

describe.each(availableDatabases().filter((db) => db.name === 'postgres'))(
  'counts and prune batches on $name, with statistics from before a burst',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_burst');
    let ds: DataSource;
    let sql: SqlConnection;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      sql = sqlConnectionOf(ds, table);
      await ds.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
      // The statistics see an empty table; then 50,000 READY and 50,000 SUCCESSFUL rows arrive.
      await ds.query(`ANALYZE ${table}`);
      await insertNumberedRows(
        ds,
        db.name,
        table,
        {
          id: freshId(db.name),
          task_name: "'Burst.task'",
          backend: "'default'",
          queue_name: "'default'",
          priority: 'i % 3',
          status: `CASE WHEN i % 2 = 0 THEN '${READY}' ELSE '${SUCCESSFUL}' END`,
          args: "'[]'",
          available_at: 'i',
          enqueued_at: 'i',
          finished_at: 'CASE WHEN i % 2 = 0 THEN NULL ELSE i END',
          attempts: '0',
          max_attempts: '1',
          worker_ids: "'[]'",
          errors: "'[]'",
          metadata: "'{}'",
        },
        100_000,
      );
    }, 120_000);

    afterAll(() => closeTestDataSource(db, ds, table));

    /** The plan of `statement` as the store runs it: kept to the indexes. */
    async function planInIndexOrder({ text, params }: Statement) {
      const rows = await sql.withRunner((runner) =>
        sql.dialect.readInIndexOrder(runner, `EXPLAIN ${text}`, params),
      );
      return rows.map((row) => String(row['QUERY PLAN'])).join('\n');
    }

    it('walk the indexes in order and stop at their limit, sorting nothing', async () => {
      const counts = new StatusCounts(sql);
      const { statements } = await recordStatements(ds, async () => {
        await counts.counts();
        await new TaskStore(sql).prune([SUCCESSFUL], 1000, 100);
      });
      const reads = statements.filter(({ text }) =>
        /^SELECT ('READY' AS status|seq, finished_at)/.test(text),
      );
      // The counts, and the prune's batches of 100 (the first and the rest).
      expect(reads.length).toBeGreaterThan(2);
      for (const statement of reads) {
        const plan = await planInIndexOrder(statement);
        if (process.env.SHOW_PLANS)
          process.stdout.write(`\n### ${statement.text}\n${plan}\n`);
        expect(plan).toMatch(/Index Scan using/);
        expect(plan).not.toMatch(/Sort|Bitmap|Seq Scan/);
      }
    });
  },
);

/**
 * A worker's statements of a batch on a young table of a few thousand rows,
 * as a drain meets them: the rows are found by their ids, never by reading
 * the table whole, which a planner weighing a join against a small table
 * prefers, and which costs each batch the whole table.
 */
describe.each(availableDatabases())(
  "a worker's batch statements on a small table on $name",
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_small', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      await insertNumberedRows(
        ds,
        db.name,
        table,
        {
          id: freshId(db.name),
          task_name: "'Small.task'",
          backend: "'default'",
          queue_name: "'default'",
          priority: '0',
          status: `'${READY}'`,
          args: "'[]'",
          available_at: 'i',
          enqueued_at: 'i',
          attempts: '0',
          max_attempts: '1',
          worker_ids: "'[]'",
          errors: "'[]'",
          metadata: "'{}'",
        },
        10_000,
      );
      await analyze(ds, db.name, table);
    }, 120_000);

    it('find the rows by their ids: heartbeat, release and completion', async () => {
      const claimed = (await store.claim('w-small', null, 200, 30_000)).map(
        (row) => ({ id: String(row.id), attempt: Number(row.attempts) }),
      );
      expect(claimed).toHaveLength(200);
      const [released, completed] = [claimed.slice(0, 100), claimed.slice(100)];
      const { result, statements } = await recordStatements(ds, async () => {
        await store.extendLeases('w-small', claimed, 30_000);
        await store.release('w-small', released);
        return store.complete(
          completed.map((row) => ({
            ...row,
            workerId: 'w-small',
            status: SUCCESSFUL,
            finishedAt: Date.now(),
            returnValue: null,
            errors: '[]',
            workerIds: '["w-small"]',
            availableAt: null,
          })),
        );
      });
      expect(result.written).toHaveLength(100);
      expect(statements.length).toBeGreaterThan(2);
      for (const statement of statements) {
        const plan = await planOf(db, ds, statement);
        expect({
          statement: statement.text,
          reads: wholeTableReads(db, plan, [table]),
        }).toEqual({ statement: statement.text, reads: [] });
      }
    });
  },
);
