import {
  ALL_QUEUES,
  type CountPrecision,
  type ResultCount,
  type StatusCount,
} from '../backend-admin.js';
import {
  isFinishedStatus,
  type TaskResultStatus,
} from '../../task/task-result-status.js';
import { SqlBuilder } from './sql-builder.js';
import type { SqlConnection } from './sql-connection.js';
import {
  everyStoredStatus,
  publicStatus,
  rowsOfStatus,
  storedStatusesOf,
} from './stored-status.js';

/**
 * Rows of one status counted one by one at most. A status with more is
 * counted over every queue: estimated where it is a finished status and
 * the database has statistics to tell, else shown as more than this.
 */
export const EXACT_COUNT_LIMIT = 10_000;

/** Precisions from the most to the least certain: a sum is as uncertain as its least certain part. */
const CERTAINTY: readonly CountPrecision[] = ['exact', 'estimate', 'more-than'];

/** A condition on the rows counted besides their status, written into a statement's parameters. */
type Condition = (sql: SqlBuilder) => string;

/** A statement and its parameters. */
export interface Statement {
  text: string;
  params: unknown[];
}

/**
 * What `tasks:status`, the dashboard and `tasks:prune --dry-run` count, at a
 * cost that does not grow with the table: each status read through the
 * index that holds its rows, `EXACT_COUNT_LIMIT + 1` rows at most (READY
 * and RUNNING rows are usually few), and finished statuses with more rows
 * estimated by the database.
 */
export class StatusCounts {
  private readonly tasks: string;

  constructor(private readonly sql: SqlConnection) {
    this.tasks = sql.dialect.quote(sql.tables.tasks);
  }

  /** Results per queue and status (as results read it), each with how it was counted. */
  async counts(): Promise<StatusCount[]> {
    return merge(await this.countStatuses(everyStoredStatus()));
  }

  /** How many results of `statuses` finished before `finishedBefore` (what a prune would delete). */
  async finishedBefore(
    statuses: readonly TaskResultStatus[],
    finishedBefore: number,
  ): Promise<ResultCount> {
    const counts = await this.countStatuses(
      statuses.flatMap(storedStatusesOf),
      (sql) => `finished_at < ${sql.p(finishedBefore, 'bigint')}`,
    );
    return counts.reduce<ResultCount>(
      (sum, part) => ({
        count: sum.count + part.count,
        precision: leastCertain(sum.precision, part.precision),
      }),
      { count: 0, precision: 'exact' },
    );
  }

  /** Per stored status, its rows per queue, or over every queue beyond the limit. */
  private async countStatuses(
    stored: readonly string[],
    also?: Condition,
  ): Promise<StatusCount[]> {
    if (stored.length === 0) return [];
    const { text, params } = this.boundedCountStatement(stored, also);
    const rows = await this.sql.withRunner((runner) =>
      this.sql.dialect.readInIndexOrder(runner, text, params),
    );
    const counted: StatusCount[] = [];
    const beyond: string[] = [];
    for (const status of stored) {
      const ofThis = rows.filter((row) => row.status === status);
      const total = ofThis.reduce((sum, row) => sum + Number(row.count), 0);
      if (total > EXACT_COUNT_LIMIT) beyond.push(status);
      else
        counted.push(
          ...ofThis.map((row) => ({
            queue: String(row.queue_name),
            status,
            count: Number(row.count),
            precision: 'exact' as const,
          })),
        );
    }
    if (beyond.length === 0) return counted;
    const exact = counted.reduce((sum, count) => sum + count.count, 0);
    const estimates = await this.estimates(beyond, exact, also);
    return [
      ...counted,
      ...beyond.map((status): StatusCount => {
        const estimate = estimates.get(status);
        // Statistics older than the rows may expect fewer than were just counted.
        return estimate === undefined
          ? {
              queue: ALL_QUEUES,
              status,
              count: EXACT_COUNT_LIMIT,
              precision: 'more-than',
            }
          : {
              queue: ALL_QUEUES,
              status,
              count: Math.max(estimate, EXACT_COUNT_LIMIT + 1),
              precision: 'estimate',
            };
      }),
    ];
  }

  /**
   * The database's estimates of the finished statuses among `beyond` (the
   * others it does not estimate). Where the table's estimated size, less
   * the `exact` rows counted and the other estimates, leaves more rows to
   * the largest of them than the database expects, the largest is
   * estimated as that rest: InnoDB caps its estimate of a range of an
   * index at half the table.
   */
  private async estimates(
    beyond: readonly string[],
    exact: number,
    also?: Condition,
  ): Promise<Map<string, number>> {
    const finished = beyond.filter((status) => {
      const reads = publicStatus(status);
      return reads !== null && isFinishedStatus(reads);
    });
    const estimates = new Map<string, number>();
    if (finished.length === 0) return estimates;
    await this.sql.withRunner(async (runner) => {
      const estimate = ({ text, params }: Statement) =>
        this.sql.dialect.estimateRows(runner, text, params);
      for (const status of finished) {
        const rows = await estimate(this.estimateStatement(status, also));
        if (rows !== null) estimates.set(status, rows);
      }
      const largest = [...estimates].sort((a, b) => b[1] - a[1])[0];
      if (also || !largest) return;
      const table = await estimate({
        text: `SELECT 1 FROM ${this.tasks}`,
        params: [],
      });
      if (table === null) return;
      const others = [...estimates.values()].reduce((sum, n) => sum + n, 0);
      const rest = table - (others - largest[1]) - exact;
      estimates.set(largest[0], Math.max(largest[1], rest));
    });
    return estimates;
  }

  /**
   * One statement: per stored status, the rows of each queue among the
   * first `EXACT_COUNT_LIMIT + 1` entries of its index (that match `also`).
   */
  boundedCountStatement(
    stored: readonly string[],
    also?: Condition,
  ): Statement {
    const { dialect, tables } = this.sql;
    const sql = new SqlBuilder(dialect);
    const text = stored
      .map((status) => {
        const { index, where, order } = rowsOfStatus(status, dialect);
        return (
          `SELECT '${status}' AS status, c.queue_name, COUNT(*) AS count FROM (` +
          `SELECT queue_name FROM ${this.tasks}${dialect.throughIndex(tables, index)} ` +
          `WHERE ${where}${also ? ` AND ${also(sql)}` : ''} ` +
          `ORDER BY ${order} LIMIT ${EXACT_COUNT_LIMIT + 1}) c GROUP BY c.queue_name`
        );
      })
      .join(' UNION ALL ');
    return { text, params: sql.params };
  }

  /** The statement whose row estimate counts the rows of a stored status (that match `also`). */
  estimateStatement(status: string, also?: Condition): Statement {
    const { dialect, tables } = this.sql;
    const sql = new SqlBuilder(dialect);
    const { index } = rowsOfStatus(status, dialect);
    // The status as the index holds it: a range of the index, whose size the database estimates.
    const held = dialect.readThrough(index).column('status');
    const text =
      `SELECT 1 FROM ${this.tasks}${dialect.throughIndex(tables, index)} ` +
      `WHERE ${held} = '${status}'${also ? ` AND ${also(sql)}` : ''}`;
    return { text, params: sql.params };
  }
}

/**
 * Counts of stored statuses as counts of the statuses they read as: those
 * of one queue and status added up; a status counted over every queue in
 * any of its parts is counted over every queue whole.
 */
function merge(counts: readonly StatusCount[]): StatusCount[] {
  const byStatus = new Map<string, StatusCount[]>();
  for (const count of counts) {
    const status = publicStatus(count.status) ?? count.status;
    byStatus.set(status, [
      ...(byStatus.get(status) ?? []),
      { ...count, status },
    ]);
  }
  const merged: StatusCount[] = [];
  for (const parts of byStatus.values()) {
    const whole = parts.some((part) => part.queue === ALL_QUEUES);
    const byQueue = new Map<string, StatusCount>();
    for (const part of parts) {
      const queue = whole ? ALL_QUEUES : part.queue;
      const sum = byQueue.get(queue);
      byQueue.set(
        queue,
        sum
          ? {
              ...sum,
              count: sum.count + part.count,
              precision: leastCertain(sum.precision, part.precision),
            }
          : { ...part, queue },
      );
    }
    merged.push(...byQueue.values());
  }
  return merged.sort(
    (a, b) => compare(a.queue, b.queue) || compare(a.status, b.status),
  );
}

function leastCertain(
  a: CountPrecision = 'exact',
  b: CountPrecision = 'exact',
): CountPrecision {
  return CERTAINTY[Math.max(CERTAINTY.indexOf(a), CERTAINTY.indexOf(b))];
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
