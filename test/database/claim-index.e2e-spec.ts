import { jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { PostgresDialect } from '../../lib/backends/database/dialects/postgres.dialect.js';
import { SqlBuilder } from '../../lib/backends/database/sql-builder.js';
import { encodeNewRow } from '../../lib/backends/database/task-row.js';
import { TaskStore } from '../../lib/backends/database/task-store.js';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';
import { planOf } from '../support/query-plans.js';
import { availableDatabases, type TestDatabase } from '../support/databases.js';
import { suiteTaskTable } from '../support/task-store.js';
import { readyResult } from '../support/result-data.js';

const ROWS = 3000;

function row(index: number, now: number): TaskResultData {
  return readyResult({
    taskName: 'Index.probe',
    queueName: index % 3 === 0 ? 'emails' : 'default',
    priority: index % 5,
    args: [index],
    status:
      index % 4 === 0 ? TaskResultStatus.SUCCESSFUL : TaskResultStatus.READY,
    runAfter: index % 7 === 0 ? new Date(now + 60_000) : null,
    enqueuedAt: new Date(now - index),
  });
}

/** Reads the plan each database would use for the claim's row selection, with scans of the whole table discouraged. */
async function claimPlan(
  db: TestDatabase,
  ds: DataSource,
  store: TaskStore,
  queues: string[] | null,
): Promise<string> {
  const sql = new SqlBuilder(store.sql.dialect);
  const select = store.selectReady(sql, queues, 16, Date.now());
  const runner = ds.createQueryRunner();
  try {
    if (db.name === 'postgres') await runner.query('SET enable_seqscan = off');
    const plan = await planOf(db, runner, { text: select, params: sql.params });
    if (db.name === 'postgres') await runner.query('RESET enable_seqscan');
    return plan;
  } finally {
    await runner.release();
  }
}

describe.each(availableDatabases())(
  'the claim index on $name',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_index', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      const now = Date.now();
      await store.insert(
        Array.from({ length: ROWS }, (_, i) => encodeNewRow(row(i, now))),
      );
      await ds.query(
        db.name === 'mariadb' ? `ANALYZE TABLE ${table}` : `ANALYZE ${table}`,
      );
    });

    it('finds when the longest-waiting due READY row became due', async () => {
      const now = Date.now();
      const [expected] = await ds.query(
        `SELECT MIN(available_at) AS oldest FROM ${table} WHERE status = 'READY' AND available_at <= ${now}`,
      );
      expect(await store.oldestDueReady(now)).toBe(Number(expected.oldest));
      // Only rows due later: none is due yet.
      const [first] = await ds.query(
        `SELECT MIN(available_at) AS oldest FROM ${table} WHERE status = 'READY'`,
      );
      expect(await store.oldestDueReady(Number(first.oldest) - 1)).toBeNull();
    });

    it.each([
      ['every queue', null],
      ['named queues', ['default', 'emails']],
    ])(
      'serves the selection and its order for %s, without sorting',
      async (_label, queues) => {
        const plan = await claimPlan(db, ds, store, queues);
        expect(plan).toContain(`${table}_claim`);
        expect(plan).not.toMatch(/Sort|filesort|TEMP B-TREE/i);
      },
    );
  },
);

describe.each(availableDatabases().filter((db) => db.name === 'postgres'))(
  'the claim on $name, before the table is analyzed',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_unanalyzed', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      await ds.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
      // A burst of enqueues the statistics know nothing of.
      const now = Date.now();
      await store.insert(
        Array.from({ length: 20_000 }, (_, i) => encodeNewRow(row(i, now))),
      );
    });

    it('walks the claim index in order and sorts nothing', async () => {
      const dialect = store.sql.dialect as PostgresDialect;
      const statements = dialect.takeStatements(
        store.sql.tables.tasks,
        store.claimParts('w', null, 50, 30_000),
        (value) => `'${value.replace(/'/g, "''")}'`,
      );
      const runner = ds.createQueryRunner();
      let plan: string;
      try {
        await runner.startTransaction();
        for (const statement of statements.slice(0, -1))
          await runner.query(statement);
        const rows: { 'QUERY PLAN': string }[] = await runner.query(
          `EXPLAIN ${statements.at(-1)}`,
        );
        plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await runner.rollbackTransaction();
        await runner.release();
      }
      const [{ analyzed }] = await ds.query(
        `SELECT COALESCE(last_analyze, last_autoanalyze) IS NOT NULL AS analyzed FROM pg_stat_user_tables WHERE relname = '${table}'`,
      );
      expect(analyzed).toBe(false);
      expect(plan).toMatch(new RegExp(`Index Scan using ${table}_claim`));
      expect(plan).not.toMatch(/Sort|Bitmap|Seq Scan/);
    });
  },
);

describe.each(availableDatabases().filter((db) => db.name === 'postgres'))(
  'the oldest due READY row on $name',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_oldest', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      const now = Date.now();
      await store.insert(
        Array.from({ length: ROWS }, (_, i) => encodeNewRow(row(i, now))),
      );
      await ds.query(`ANALYZE ${table}`);
    });

    it('is looked up in the claim index, scanning neither the table nor the backlog', async () => {
      const sql = new SqlBuilder(store.sql.dialect);
      const rows: { 'QUERY PLAN': string }[] = await ds.query(
        `EXPLAIN ${store.selectOldestDueReady(sql, Date.now())}`,
        sql.params,
      );
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(new RegExp(`Index Only Scan using ${table}_claim`));
      expect(plan).not.toMatch(/Seq Scan|Bitmap|Sort/);
      // Each lookup stops at its first index entry.
      const count = (pattern: RegExp) => plan.match(pattern)?.length ?? 0;
      expect(count(/Limit/g)).toBe(count(/Index Only Scan/g));
    });
  },
);

/** How each database's plan shows the tasks table read through its ids index, and read whole. */
const BY_ID: Record<string, (table: string) => RegExp> = {
  // Looked up by id, or all held rows read once into a hash of the
  // outcomes, whichever the planner prices lower.
  postgres: (table) =>
    new RegExp(
      `Index Scan using ${table}_id|Hash Cond: \\(\\(o_rows\\.o_id\\)::text = \\(${table}\\.id\\)::text\\)`,
    ),
  mariadb: (table) => new RegExp(`table=${table} type=eq_ref key=${table}_id`),
  sqlite: (table) =>
    new RegExp(`SEARCH ${table} USING INDEX \\S+ \\(id=\\?\\)`),
};
const WHOLE_TABLE: Record<string, (table: string) => RegExp> = {
  // Never each held row compared with each outcome, never the lease index.
  postgres: () => /Join Filter|_lease/,
  mariadb: (table) => new RegExp(`table=${table} type=(ALL|index|range)`),
  sqlite: (table) => new RegExp(`SCAN ${table}\\b`),
};

describe.each(availableDatabases())(
  'the outcomes of a burst of claims on $name, with statistics from before it',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_outcomes', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      if (db.name === 'postgres')
        await ds.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
      const now = Date.now();
      await store.insert(
        Array.from(
          { length: db.name === 'postgres' ? 100_000 : 20_000 },
          (_, i) =>
            encodeNewRow({ ...row(i, now), status: TaskResultStatus.READY }),
        ),
      );
      // The statistics see only READY rows without a worker.
      await ds.query(
        db.name === 'mariadb' ? `ANALYZE TABLE ${table}` : `ANALYZE ${table}`,
      );
    }, 60_000);

    it('are matched to their rows by id, not by comparing every held row with every outcome', async () => {
      const claimed = await store.claim('w', null, 1000, 30_000);
      expect(claimed).toHaveLength(1000);
      // The statements `complete` sends, as it sends them.
      const sent: { text: string; params: unknown[] }[] = [];
      const create = ds.createQueryRunner.bind(ds);
      const spy = jest.spyOn(ds, 'createQueryRunner').mockImplementation(() => {
        const runner = create();
        const query = runner.query.bind(runner);
        runner.query = ((text: string, params?: unknown[], full?: boolean) => {
          sent.push({ text, params: params ?? [] });
          return query(text, params, full as true);
        }) as typeof runner.query;
        return runner;
      });
      let report;
      try {
        report = await store.complete(
          claimed.map((claim) => ({
            id: String(claim.id),
            workerId: 'w',
            attempt: 1,
            status: TaskResultStatus.SUCCESSFUL,
            finishedAt: Date.now(),
            returnValue: 'null',
            errors: '[]',
            workerIds: '["w"]',
            availableAt: null,
          })),
        );
      } finally {
        spy.mockRestore();
      }
      expect(report.written).toHaveLength(1000);
      const statements = sent.filter(({ text }) =>
        /^(UPDATE|SELECT)/.test(text),
      );
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        const plan = await planOf(db, ds, statement);
        expect(plan).toMatch(BY_ID[db.name](table));
        expect(plan).not.toMatch(WHOLE_TABLE[db.name](table));
      }
    });
  },
);

/** Deferred rows of a higher priority than every due row: what a claim must not walk. */
const DEFERRED = 100_000;
/** Due READY rows, of the lowest priority. */
const DUE = 100;
/** Deferred rows that have fallen due, not promoted yet. */
const FALLEN_DUE = 50;
/** Rows a claim takes at most. */
const CLAIM_LIMIT = 16;

/** One node of a PostgreSQL plan read with EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON). */
interface PgPlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows': number;
  'Shared Hit Blocks': number;
  'Shared Read Blocks': number;
  Plans?: PgPlanNode[];
}

/** How each database's plan shows a sort, or the tasks table read whole rather than through an index. */
const SORTED_OR_WHOLE: Record<string, (table: string) => RegExp> = {
  postgres: () => /Sort|Seq Scan|Bitmap/,
  mariadb: (table) => new RegExp(`filesort|table=${table} type=ALL`),
  sqlite: (table) => new RegExp(`TEMP B-TREE|SCAN ${table}(?! USING)`),
};

/** Runs `statement` under EXPLAIN ANALYZE and returns the nodes of its plan, outermost first. */
async function analyzedPgPlan(
  ds: DataSource,
  { text, params }: { text: string; params: unknown[] },
): Promise<PgPlanNode[]> {
  const [row]: { 'QUERY PLAN': { Plan: PgPlanNode }[] }[] = await ds.query(
    `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
    params,
  );
  const nodes: PgPlanNode[] = [];
  const walk = (node: PgPlanNode) => {
    nodes.push(node);
    node.Plans?.forEach(walk);
  };
  walk(row['QUERY PLAN'][0].Plan);
  return nodes;
}

/** The rows MariaDB read from the tasks table running `statement` (ANALYZE's r_rows). */
async function mariadbRowsRead(
  ds: DataSource,
  table: string,
  { text, params }: { text: string; params: unknown[] },
): Promise<number> {
  const [row]: { ANALYZE: string }[] = await ds.query(
    `ANALYZE FORMAT=JSON ${text}`,
    params,
  );
  const read: number[] = [];
  JSON.parse(row.ANALYZE, (_key, value: unknown) => {
    if (
      typeof value === 'object' &&
      value !== null &&
      (value as { table_name?: string }).table_name === table
    )
      read.push(Number((value as { r_rows?: number }).r_rows));
    return value;
  });
  expect(read).toHaveLength(1);
  return read[0];
}

/** How many entries SQLite's index `index` holds (its leaf cells, as the dbstat table counts them). */
async function sqliteIndexEntries(
  ds: DataSource,
  index: string,
): Promise<number> {
  const [row] = await ds.query(
    `SELECT SUM(ncell) AS entries FROM dbstat WHERE name = ? AND pagetype = 'leaf'`,
    [index],
  );
  return Number(row.entries);
}

describe.each(availableDatabases())(
  'the claim and the promotion with 100,000 deferred higher-priority rows on $name',
  (db: TestDatabase) => {
    let ds: DataSource;
    let store: TaskStore;
    const table = suiteTaskTable(db, 't_deferred', (opened) => {
      ({ ds, store } = opened);
    });

    beforeAll(async () => {
      const now = Date.now();
      const stored = (
        count: number,
        priority: number,
        runAfter: Date | null,
      ): TaskResultData[] =>
        Array.from({ length: count }, (_, i) => ({
          ...row(i, now),
          priority,
          status: TaskResultStatus.READY,
          runAfter,
        }));
      // A day ahead, at a priority above every due row's.
      await store.insert(
        stored(DEFERRED, 10, new Date(now + 86_400_000)).map(encodeNewRow),
      );
      await store.insert(stored(DUE, 0, null).map(encodeNewRow));
      // Deferred a while ago, due since: waiting for a worker to promote them.
      const fallen = stored(FALLEN_DUE, 5, new Date(now + 3_600_000));
      await store.insert(fallen.map(encodeNewRow));
      await ds.query(
        `UPDATE ${table} SET available_at = available_at - 7200000 WHERE priority = 5`,
      );
      await ds.query(
        db.name === 'mariadb' ? `ANALYZE TABLE ${table}` : `ANALYZE ${table}`,
      );
    }, 120_000);

    it('stores the deferred rows apart from the claimable ones', async () => {
      const counts: { status: string; count: number | string }[] =
        await ds.query(
          `SELECT status, COUNT(*) AS count FROM ${table} GROUP BY status ORDER BY status`,
        );
      expect(
        counts.map(({ status, count }) => [status, Number(count)]),
      ).toEqual([
        ['READY', DUE],
        ['SCHEDULED', DEFERRED + FALLEN_DUE],
      ]);
    });

    it('claims through the claim index, walking the due rows only, never the deferred ones', async () => {
      const plan = await claimPlan(db, ds, store, null);
      expect(plan).toContain(`${table}_claim`);
      expect(plan).not.toMatch(/Sort|filesort|TEMP B-TREE/i);

      const sql = new SqlBuilder(store.sql.dialect);
      const select = {
        text: store.selectReady(sql, null, CLAIM_LIMIT, Date.now()),
        params: sql.params,
      };
      if (db.name === 'postgres') {
        const nodes = await analyzedPgPlan(ds, select);
        const scan = nodes.find(
          (node) => node['Index Name'] === `${table}_claim`,
        );
        expect(scan?.['Actual Rows']).toBe(CLAIM_LIMIT);
        // The deferred rows' entries alone would fill hundreds of index pages.
        expect(
          scan!['Shared Hit Blocks'] + scan!['Shared Read Blocks'],
        ).toBeLessThan(DEFERRED / 1000);
      } else if (db.name === 'mariadb') {
        expect(await mariadbRowsRead(ds, table, select)).toBeLessThanOrEqual(
          CLAIM_LIMIT,
        );
      } else {
        // SQLite counts no rows read; its claim index holds the due rows alone.
        expect(await sqliteIndexEntries(ds, `${table}_claim`)).toBe(DUE);
      }
    });

    it('promotes through a range of the scheduled index as long as what it returns', async () => {
      const now = Date.now();
      const sql = new SqlBuilder(store.sql.dialect);
      const select = {
        text: store.selectDueDeferred(sql, 1000, now),
        params: sql.params,
      };
      const plan = await planOf(db, ds, select);
      expect(plan).toContain(`${table}_scheduled`);
      expect(plan).not.toMatch(SORTED_OR_WHOLE[db.name](table));
      const next = { text: store.selectNextDeferred(), params: [] };
      const nextPlan = await planOf(db, ds, next);
      expect(nextPlan).toContain(`${table}_scheduled`);
      expect(nextPlan).not.toMatch(SORTED_OR_WHOLE[db.name](table));
      if (db.name === 'postgres') {
        const scan = (await analyzedPgPlan(ds, select)).find(
          (node) => node['Index Name'] === `${table}_scheduled`,
        );
        expect(scan?.['Index Cond']).toMatch(/available_at <=/);
        expect(scan?.['Actual Rows']).toBe(FALLEN_DUE);
        const first = (await analyzedPgPlan(ds, next)).find(
          (node) => node['Index Name'] === `${table}_scheduled`,
        );
        expect(first?.['Actual Rows']).toBe(1);
      } else if (db.name === 'mariadb') {
        expect(plan).toMatch(/type=range/);
        expect(await mariadbRowsRead(ds, table, select)).toBe(FALLEN_DUE);
        expect(await mariadbRowsRead(ds, table, next)).toBe(1);
      } else {
        expect(plan).toMatch(
          new RegExp(
            `SEARCH ${table} USING (COVERING )?INDEX ${table}_scheduled \\(available_at<\\?\\)`,
          ),
        );
      }

      // Promoted, the rows fallen due are claimed first: their priority is above the other due rows'.
      const promoted = await store.promoteDue(1000);
      expect(promoted.promoted).toBe(FALLEN_DUE);
      expect(promoted.nextDueAt).toBeGreaterThan(now + 86_000_000);
      expect(await store.promoteDue(1000)).toEqual({
        promoted: 0,
        nextDueAt: promoted.nextDueAt,
      });
      const claimed = await store.claim('w', null, FALLEN_DUE + 1, 30_000);
      const priorities = claimed.map((row) => Number(row.priority));
      expect(priorities.sort((a, b) => b - a)).toEqual([
        ...Array<number>(FALLEN_DUE).fill(5),
        0,
      ]);
    });
  },
);
