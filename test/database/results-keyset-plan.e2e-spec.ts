import type { DataSource } from 'typeorm';
import { PostgresDialect } from '../../lib/backends/database/dialects/postgres.dialect.js';
import {
  ResultStore,
  encodeCursor,
} from '../../lib/backends/database/result-store.js';
import { SqlConnection } from '../../lib/backends/database/sql-connection.js';
import { tablesFor } from '../../lib/backends/database/task-tables.js';
import type { ResultFilter } from '../../lib/index.js';
import { TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
} from '../support/databases.js';

const ROWS = 1_000_000;
const PAGE = 50;
const postgres = availableDatabases().find((db) => db.name === 'postgres');

/** A plan node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
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
      store = new ResultStore(
        new SqlConnection(ds, ds, new PostgresDialect(), tablesFor(table)),
      );
    }, 300_000);

    afterAll(async () => {
      await closeTestDataSource(db, ds, table);
    });

    /** The row `depth` rows into the list of `filter`, as a cursor. */
    async function cursorAt(filter: ResultFilter, depth: number) {
      const byFinish = filter.status !== undefined;
      const where = [
        filter.status && `status = '${filter.status}'`,
        filter.taskName && `task_name = '${filter.taskName}'`,
      ].filter(Boolean);
      const [row] = await ds.query(
        `SELECT seq, finished_at FROM "${table}"${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
          `ORDER BY ${byFinish ? 'finished_at DESC, seq DESC' : 'seq DESC'} OFFSET ${depth} LIMIT 1`,
      );
      return encodeCursor({
        seq: Number(row.seq),
        finishedAt: byFinish ? Number(row.finished_at) : undefined,
      });
    }

    async function plan(filter: ResultFilter, after?: string) {
      const { text, params } = store.pageStatement(filter, PAGE + 1, after);
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
    ] as const)(
      'reads the first and a deep page of %s through an index',
      async (_what, filter, index) => {
        const deep = await cursorAt(filter, 90_000);
        for (const after of [undefined, deep]) {
          const scans = (await plan(filter, after)).filter((node) =>
            /Scan/.test(node['Node Type']),
          );
          expect(scans.map((node) => node['Node Type'])).not.toContain(
            'Seq Scan',
          );
          expect(scans).toEqual([
            expect.objectContaining({
              'Node Type': 'Index Scan',
              'Index Name': index,
              'Scan Direction': 'Backward',
            }),
          ]);
        }
        // The deep page is the rows that follow the cursor's row.
        const page = await store.page(filter, PAGE, deep);
        const expected = await store.page(filter, PAGE + 90_001);
        expect(page.rows.map((row) => row.id)).toEqual(
          expected.rows.slice(90_001).map((row) => row.id),
        );
      },
      60_000,
    );
  },
);
