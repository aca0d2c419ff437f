import { jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { TestDatabaseName } from './databases.js';

/** A statement as sent, with its parameters. */
export interface Statement {
  text: string;
  params: unknown[];
}

/** The plan of `statement` as one text: each database's EXPLAIN, one line per step. */
export async function planOf(
  db: { name: TestDatabaseName },
  ds: Pick<DataSource, 'query'>,
  { text, params }: Statement,
): Promise<string> {
  if (db.name === 'postgres') {
    const rows: { 'QUERY PLAN': string }[] = await ds.query(
      `EXPLAIN ${text}`,
      params,
    );
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  }
  if (db.name === 'mariadb') {
    const rows: {
      select_type: string;
      table: string;
      type: string;
      key: string | null;
      Extra: string | null;
    }[] = await ds.query(`EXPLAIN ${text}`, params);
    return rows
      .map(
        (r) =>
          `table=${r.table} type=${r.type} key=${r.key} extra=${r.Extra} select=${r.select_type}`,
      )
      .join('\n');
  }
  const rows: { detail: string }[] = await ds.query(
    `EXPLAIN QUERY PLAN ${text}`,
    params,
  );
  return rows.map((r) => r.detail).join('\n');
}

/**
 * The steps of a plan (as `planOf` writes it) that read a table whole,
 * row after row: PostgreSQL's sequential scans of `tables`, MariaDB's full
 * table or index scans, SQLite's scans that use no index. Reads of the
 * statement's own recordsets (a JSON table, a derived table, a subquery)
 * are not, nor PostgreSQL's of its catalogs.
 */
export function wholeTableReads(
  db: { name: TestDatabaseName },
  plan: string,
  tables: readonly string[],
): string[] {
  const lines = plan.split('\n');
  if (db.name === 'postgres')
    return lines.filter((line) =>
      tables.some((table) =>
        new RegExp(`Seq Scan on "?${table}"?( |$)`).test(line),
      ),
    );
  if (db.name === 'mariadb')
    return lines.filter(
      (line) =>
        /type=(ALL|index) /.test(line) &&
        !/table=</.test(line) &&
        // The row an INSERT … VALUES writes: nothing is read.
        !/select=INSERT$/.test(line) &&
        !/Table function/.test(line),
    );
  // Subqueries SQLite runs as co-routines or materializes are read whole by design.
  const own = new Set(
    lines.flatMap(
      (line) => /^(?:CO-ROUTINE|MATERIALIZE) (\S+)/.exec(line)?.[1] ?? [],
    ),
  );
  return lines.filter((line) => {
    const scan = /^SCAN (\S+)(.*)$/.exec(line);
    return (
      scan !== null &&
      !own.has(scan[1]) &&
      scan[1] !== 'CONSTANT' &&
      !/USING|VIRTUAL TABLE/.test(scan[2])
    );
  });
}

/**
 * Runs `work` and returns what it returned and the statements it sent on
 * connections of `ds` (the reads and writes: no transaction control).
 */
export async function recordStatements<T>(
  ds: DataSource,
  work: () => Promise<T>,
): Promise<{ result: T; statements: Statement[] }> {
  const statements: Statement[] = [];
  const create = ds.createQueryRunner.bind(ds);
  const spy = jest.spyOn(ds, 'createQueryRunner').mockImplementation(() => {
    const runner = create();
    const query = runner.query.bind(runner);
    runner.query = ((text: string, params?: unknown[], full?: boolean) => {
      if (/^\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b/i.test(text))
        statements.push({ text, params: params ?? [] });
      return query(text, params, full as true);
    }) as typeof runner.query;
    return runner;
  });
  try {
    return { result: await work(), statements };
  } finally {
    spy.mockRestore();
  }
}
