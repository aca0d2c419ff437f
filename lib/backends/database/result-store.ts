import { TasksError } from '../../errors/tasks.error.js';
import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { ResultFilter } from '../results-admin.js';
import { SqlBuilder } from './sql-builder.js';
import type { SqlConnection, TaskRow } from './sql-connection.js';
import { FINISHED_INDEX, KEY_HOLDING_STATUSES } from './task-columns.js';
import { storedStatuses } from './stored-status.js';

const { READY, FAILED, CANCELLED } = TaskResultStatus;

/** The statuses a retry takes a row from. */
const RETRYABLE = `status IN ('${FAILED}', '${CANCELLED}')`;

/** Where a page ends: the last row's `seq`, and its `finished_at` when the list is by finish time. */
export interface Cursor {
  finishedAt?: number;
  seq: number;
}

/** Rows a bulk action leaves out: those whose `column` is after `at` (or NULL). */
export interface BatchBound {
  column: 'finished_at' | 'enqueued_at';
  at: Date;
}

/** A page's rows, and the cursor after its last one. */
export interface RowPage {
  rows: TaskRow[];
  next: string | null;
  /** Set when the search stopped after reading this many rows before the page filled (see `ResultPage`). */
  stoppedAfter?: number;
}

/**
 * Rows a page filtered by task or queue reads at most: no index leads with
 * those columns (each would slow every enqueue), so such a page walks the
 * list's own index and stops after this many rows, found or not.
 */
export const SEARCH_BOUND = 10_000;

/** The finished rows of one time bucket, queue and status. */
export interface ActivityRow {
  start: number;
  queue: string;
  status: string;
  count: number;
}

/** The cursor of the page after the row at `cursor`. */
export const encodeCursor = (cursor: Cursor): string =>
  cursor.finishedAt === undefined
    ? String(cursor.seq)
    : `${cursor.finishedAt}.${cursor.seq}`;

/**
 * Statements on the tasks table for browsing and administering results (the
 * dashboard), apart from the worker's: reads through the indexes the worker
 * already keeps, and writes that make rows READY or CANCELLED by id.
 */
export class ResultStore {
  private readonly tasks: string;

  constructor(private readonly sql: SqlConnection) {
    this.tasks = sql.dialect.quote(sql.tables.tasks);
  }

  /**
   * A page of rows matching `filter`, newest first. A list of one finished
   * status is ordered by `finished_at`, walking the index that pruning uses
   * (status, finished_at); any other list by `seq`, walking the primary key.
   * Keyset pagination: the cursor names the last row shown, so a deep page
   * costs what the first one does. A filter on task or queue (no index
   * leads with them) searches the walk only down to the row `SEARCH_BOUND`
   * rows after the cursor, found first (`searchEnd`): a page that does not
   * fill there goes on from that row, so the page costs the same however
   * rare the match, and every row between two cursors is searched by one
   * page whatever changes meanwhile.
   */
  async page(
    filter: ResultFilter,
    limit: number,
    after?: string,
  ): Promise<RowPage> {
    const until = await this.searchEnd(filter, after);
    const statement = this.pageStatement(filter, limit + 1, after, until);
    const rows = await this.sql.read(statement.text, statement.params);
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    if (rows.length > limit && last)
      return {
        rows: shown,
        next: encodeCursor({
          seq: Number(last.seq),
          finishedAt: statement.byFinish ? Number(last.finished_at) : undefined,
        }),
      };
    return until
      ? { rows: shown, next: encodeCursor(until), stoppedAfter: SEARCH_BOUND }
      : { rows: shown, next: null };
  }

  /**
   * Where a page of `filter` after `after` stops searching: the row
   * `SEARCH_BOUND` rows into the walk, when the filter names a task or a
   * queue and the walk goes that far; else undefined.
   */
  async searchEnd(
    filter: ResultFilter,
    after?: string,
  ): Promise<Cursor | undefined> {
    if (filter.taskName === undefined && filter.queue === undefined) return;
    const { byFinish, walk } = this.walk(filter, after);
    const sql = new SqlBuilder(this.sql.dialect);
    const [row] = await this.sql.read(
      `${walk(sql, 'seq, finished_at')} LIMIT 1 OFFSET ${sql.p(SEARCH_BOUND - 1, 'integer')}`,
      sql.params,
    );
    if (!row) return;
    return {
      seq: Number(row.seq),
      finishedAt: byFinish ? Number(row.finished_at) : undefined,
    };
  }

  /** The SELECT of a page of at most `limit` rows, down to the row `until` (see `page`): what the plan test explains. */
  pageStatement(
    filter: ResultFilter,
    limit: number,
    after?: string,
    until?: Cursor,
  ): { text: string; params: unknown[]; byFinish: boolean } {
    const { byFinish, walk } = this.walk(filter, after);
    const sql = new SqlBuilder(this.sql.dialect);
    const text = `${walk(sql, '*', until, true)} LIMIT ${sql.p(limit, 'integer')}`;
    return { text, params: sql.params, byFinish };
  }

  /**
   * The list's walk after `after`, newest first, through its index (see
   * `page`): by its own conditions (id, status) and, with `filtered`, by
   * task and queue too; with `until`, down to that row.
   */
  private walk(filter: ResultFilter, after?: string) {
    const byFinish =
      filter.status !== undefined && isFinishedStatus(filter.status);
    const cursor = after === undefined ? undefined : parseCursor(after);
    if (cursor && byFinish !== (cursor.finishedAt !== undefined))
      throw new TasksError(TaskMessages.badResultCursor(after ?? ''));
    const indexed: ResultFilter = { id: filter.id, status: filter.status };
    // A finished status is read through the index of finished rows, as it holds it.
    const finished = this.sql.dialect.readThrough(FINISHED_INDEX);
    const status = byFinish ? finished.column('status') : 'status';
    const walk = (
      sql: SqlBuilder,
      columns: string,
      until?: Cursor,
      filtered = false,
    ) => {
      const where = [
        this.matching(sql, filtered ? filter : indexed, status),
        // Implied by a finished status, spelled out for the index.
        byFinish && finished.rows,
        cursor && this.beyond(sql, cursor, '<'),
        until && this.beyond(sql, until, '>='),
      ].filter(Boolean);
      return (
        `SELECT ${columns} FROM ${this.tasks}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
        `ORDER BY ${byFinish ? 'finished_at DESC, seq DESC' : 'seq DESC'}`
      );
    };
    return { byFinish, walk };
  }

  /**
   * Rows on one side of the row at `at` in the walk's order: `<` those
   * after it (older), `>=` it and those before it.
   */
  private beyond(sql: SqlBuilder, at: Cursor, side: '<' | '>='): string {
    if (at.finishedAt === undefined)
      return `seq ${side} ${sql.p(at.seq, 'bigint')}`;
    const [inner, outer] = side === '<' ? ['<=', '<'] : ['>=', '>'];
    // In the order of the text: positional placeholders take them so.
    const within = `finished_at ${inner} ${sql.p(at.finishedAt, 'bigint')}`;
    const across = `finished_at ${outer} ${sql.p(at.finishedAt, 'bigint')}`;
    return `${within} AND (${across} OR seq ${side} ${sql.p(at.seq, 'bigint')})`;
  }

  /** Rows finished at or after `since`, counted per `bucketMs`, queue and status. */
  async activity(since: number, bucketMs: number): Promise<ActivityRow[]> {
    const sql = new SqlBuilder(this.sql.dialect);
    const bucket = `finished_at - finished_at % ${sql.p(bucketMs, 'bigint')}`;
    const finished = [TaskResultStatus.SUCCESSFUL, FAILED, CANCELLED];
    // Ranges of the index of finished rows, which holds their status so.
    const status = this.sql.dialect
      .readThrough(FINISHED_INDEX)
      .column('status');
    const rows = await this.sql.read(
      `SELECT ${bucket} AS bucket, queue_name, status, COUNT(*) AS count FROM ${this.tasks} ` +
        `WHERE ${status} IN (${sql.list(finished, 'text')}) AND finished_at >= ${sql.p(since, 'bigint')} ` +
        'GROUP BY 1, 2, 3',
      sql.params,
    );
    return rows.map((row) => ({
      start: Number(row.bucket),
      queue: String(row.queue_name),
      status: String(row.status),
      count: Number(row.count),
    }));
  }

  /**
   * Makes FAILED or CANCELLED rows READY again for one more attempt, due
   * now: attempts, errors and workers so far are kept, the outcome and
   * progress of the last attempt cleared. Returns how many it changed.
   */
  async retry(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const { dialect } = this.sql;
    const sql = new SqlBuilder(dialect);
    // `status` is set last: MySQL reads a column assigned earlier in the statement as its new value.
    const update =
      `UPDATE ${this.tasks} SET available_at = ${sql.p(Date.now(), 'bigint')}, run_after = NULL, ` +
      'finished_at = NULL, return_value = NULL, progress = NULL, cancel_requested_at = NULL, ' +
      `worker_id = NULL, lease_expires_at = NULL, max_attempts = attempts + 1, status = '${READY}' ` +
      `WHERE id IN (${sql.list(ids, 'text')}) AND ${RETRYABLE}`;
    if (!dialect.returningUpdates) return this.sql.write(update, sql.params);
    // The rows are READY as if enqueued: listening workers are woken as by an enqueue.
    const woken = dialect.wakeOnInsert(
      `${update} RETURNING id`,
      sql,
      this.sql.tables.tasks,
      { ready: true, dueAt: null },
      true,
    );
    return (await this.sql.read(woken, sql.params)).length;
  }

  /**
   * The unique key of row `id` when another READY (due or deferred) or
   * RUNNING row holds it (what keeps it from being retried), else null.
   */
  async keyHeldElsewhere(id: string): Promise<string | null> {
    const { dialect } = this.sql;
    const sql = new SqlBuilder(dialect);
    const [row] = await this.sql.read(
      `SELECT r.unique_key FROM ${this.tasks} r JOIN ${this.tasks} h ` +
        `ON h.task_name = r.task_name AND ${dialect.exact('h.unique_key')} = ${dialect.exact('r.unique_key')} ` +
        `WHERE r.id = ${sql.p(id, 'text')} AND h.id <> r.id AND h.status IN ${KEY_HOLDING_STATUSES}`,
      sql.params,
    );
    return row ? String(row.unique_key) : null;
  }

  /**
   * The ids and statuses of rows matching `filter` in one of `statuses`
   * after `afterSeq` (and within `bound`), oldest first, at most `limit`:
   * a bulk action's next batch.
   */
  async batch(
    filter: ResultFilter,
    statuses: readonly TaskResultStatus[],
    afterSeq: number,
    limit: number,
    bound?: BatchBound,
  ): Promise<{ id: string; status: string; seq: number }[]> {
    const sql = new SqlBuilder(this.sql.dialect);
    const where = [
      this.matching(sql, filter),
      `status IN (${sql.list(storedStatuses(statuses), 'text')})`,
      `seq > ${sql.p(afterSeq, 'bigint')}`,
    ];
    if (bound)
      where.push(`${bound.column} <= ${sql.p(bound.at.getTime(), 'bigint')}`);
    const rows = await this.sql.read(
      `SELECT id, status, seq FROM ${this.tasks} WHERE ${where.filter(Boolean).join(' AND ')} ` +
        `ORDER BY seq LIMIT ${sql.p(limit, 'integer')}`,
      sql.params,
    );
    return rows.map((row) => ({
      id: String(row.id),
      status: String(row.status),
      seq: Number(row.seq),
    }));
  }

  /** The conditions of `filter` on the columns of the tasks table (its status read as `status`), joined by AND (empty: every row). */
  private matching(
    sql: SqlBuilder,
    filter: ResultFilter,
    status = 'status',
  ): string {
    const conditions: string[] = [];
    if (filter.id !== undefined)
      conditions.push(`id = ${sql.p(filter.id, 'text')}`);
    if (filter.status !== undefined)
      conditions.push(
        `${status} IN (${sql.list(storedStatuses([filter.status]), 'text')})`,
      );
    if (filter.taskName !== undefined)
      conditions.push(`task_name = ${sql.p(filter.taskName, 'text')}`);
    if (filter.queue !== undefined)
      conditions.push(`queue_name = ${sql.p(filter.queue, 'text')}`);
    return conditions.join(' AND ');
  }
}

/** Reads a cursor written by `encodeCursor`; a `TasksError` when it is not one. */
function parseCursor(value: string): Cursor {
  const match = /^(?:(\d{1,16})\.)?(\d{1,16})$/.exec(value);
  const cursor = match && {
    finishedAt: match[1] === undefined ? undefined : Number(match[1]),
    seq: Number(match[2]),
  };
  // Beyond a safe integer the number is not one a row holds (and not one a bigint parameter takes).
  if (
    !cursor ||
    !Number.isSafeInteger(cursor.seq) ||
    !Number.isSafeInteger(cursor.finishedAt ?? 0)
  )
    throw new TasksError(TaskMessages.badResultCursor(value));
  return cursor;
}
