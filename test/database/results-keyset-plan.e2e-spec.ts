import type { DataSource } from 'typeorm';
import {
  ResultStore,
  SEARCH_BOUND,
  encodeCursor,
} from '../../lib/backends/database/result-store.js';
import type { ResultFilter } from '../../lib/index.js';
import { TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
} from '../support/databases.js';
import { sqlConnectionOf } from '../support/task-store.js';

const ROWS = 1_000_000;
const PAGE = 50;
const postgres = availableDatabases().find((db) => db.name === 'postgres');

/** A plan node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Rows Removed by Filter'?: number;
  'Scan Direction'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * The dashboard's results list pages through a million finished results by
 * keyset on PostgreSQL: the first page and one 90,000 rows deep are both
 * read through an index in order (the primary key, or the pruning index
 * for a finished status), never by a sequential scan; the planner's
 * settings are left as they are.
 */
// Skipped without PostgreSQL, which the global setup says loudly.
(postgres ? describe : describe.skip)(
  'results list keyset plan on postgres',
  () => {
    const db = postgres!;
    const table = uniqueTableName('t_keyset');
    let ds: DataSource;
    let store: ResultStore;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      // Nine of ten SUCCESSFUL, one FAILED, over the last 1,000,000 seconds.
      await ds.query(
        `INSERT INTO "${table}" (id, task_name, backend, queue_name, priority, status, args, available_at, enqueued_at, started_at, finished_at, last_attempted_at, attempts, max_attempts, worker_ids, errors, metadata) ` +
          `SELECT md5(i::text)::uuid::text, 'Jobs.task' || (i % 7), 'default', 'q' || (i % 3), 0, ` +
          `CASE WHEN i % 10 = 0 THEN 'FAILED' ELSE 'SUCCESSFUL' END, '[]', t, t, t, t + 5, t, 1, 1, '[]', '[]', '{}' ` +
          `FROM generate_series(1, ${ROWS}) AS i, LATERAL (SELECT 1700000000000::bigint + i * 1000 AS t) AS times`,
      );
      await ds.query(`ANALYZE "${table}"`);
      store = new ResultStore(sqlConnectionOf(ds, table));
    }, 300_000);

    afterAll(async () => {
      await closeTestDataSource(db, ds, table);
    });

    /** `count` rows of the list of `filter` from `depth` on, read without the store. */
    async function listed(filter: ResultFilter, depth: number, count: number) {
      const byFinish = filter.status !== undefined;
      const where = [
        filter.status && `status = '${filter.status}'`,
        filter.taskName && `task_name = '${filter.taskName}'`,
        filter.queue && `queue_name = '${filter.queue}'`,
      ].filter(Boolean);
      const rows: { id: string; seq: string; finished_at: string }[] =
        await ds.query(
          `SELECT id, seq, finished_at FROM "${table}"${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
            `ORDER BY ${byFinish ? 'finished_at DESC, seq DESC' : 'seq DESC'} OFFSET ${depth} LIMIT ${count}`,
        );
      return rows.map((row) => ({
        id: row.id,
        cursor: encodeCursor({
          seq: Number(row.seq),
          finishedAt: byFinish ? Number(row.finished_at) : undefined,
        }),
      }));
    }

    async function plan(filter: ResultFilter, after?: string) {
      const { text, params } = store.pageStatement(
        filter,
        PAGE + 1,
        after,
        await store.searchEnd(filter, after),
      );
      const [{ 'QUERY PLAN': explained }] = await ds.query(
        `EXPLAIN (FORMAT JSON) ${text}`,
        params,
      );
      return nodes((explained as { Plan: PlanNode }[])[0].Plan);
    }

    it.each([
      ['every result', {}, `${table}_pkey`],
      [
        'FAILED results',
        { status: TaskResultStatus.FAILED },
        `${table}_finished`,
      ],
      [
        'SUCCESSFUL results of one task',
        { status: TaskResultStatus.SUCCESSFUL, taskName: 'Jobs.task3' },
        `${table}_finished`,
      ],
      ['results of one queue', { queue: 'q1' }, `${table}_pkey`],
      ['results of one task', { taskName: 'Jobs.task3' }, `${table}_pkey`],
    ] as const)(
      'reads the first and a deep page of %s through an index',
      async (_what, filter, index) => {
        const [deep] = await listed(filter, 90_000, 1);
        for (const after of [undefined, deep.cursor]) {
          const nodes = await plan(filter, after);
          // The list's own index and nothing else: walked newest first, or
          // (a task or queue filter) read over the range the search covers.
          expect(nodes.map((node) => node['Node Type'])).not.toContain(
            'Seq Scan',
          );
          const indexed = nodes.filter((node) => node['Index Name']);
          expect(indexed).toHaveLength(1);
          expect(indexed[0]['Index Name']).toBe(index);
          if (!('taskName' in filter) && !('queue' in filter))
            expect(indexed[0]).toEqual(
              expect.objectContaining({
                'Node Type': 'Index Scan',
                'Scan Direction': 'Backward',
              }),
            );
        }
        // The deep page is the rows that follow the cursor's row.
        const page = await store.page(filter, PAGE, deep.cursor);
        expect(page.rows.map((row) => row.id)).toEqual(
          (await listed(filter, 90_001, PAGE)).map((row) => row.id),
        );
      },
      60_000,
    );

    it('reads at most its search bound of rows for a task or queue no row has', async () => {
      const until = await store.searchEnd({ queue: 'nowhere' });
      expect(until).toBeDefined();
      const { text, params } = store.pageStatement(
        { queue: 'nowhere' },
        PAGE + 1,
        undefined,
        until,
      );
      const [{ 'QUERY PLAN': explained }] = await ds.query(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        params,
      );
      // Every row the scan of the table read, kept or filtered out.
      const read = nodes((explained as { Plan: PlanNode }[])[0].Plan)
        .filter((node) => node['Relation Name'] !== undefined)
        .map(
          (node) =>
            (node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0),
        );
      expect(read).toEqual([SEARCH_BOUND]);
      const page = await store.page({ queue: 'nowhere' }, PAGE);
      expect(page).toEqual({
        rows: [],
        next: expect.any(String),
        stoppedAfter: SEARCH_BOUND,
      });
    });
  },
);
