import { TasksError } from '../../errors/tasks.error.js';
import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { ResultFilter } from '../results-admin.js';
import { SqlBuilder } from './sql-builder.js';
import type { SqlConnection, TaskRow } from './sql-connection.js';
import { SCHEDULED, storedStatuses } from './stored-status.js';

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
}

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
   * costs what the first one does.
   */
  async page(
    filter: ResultFilter,
    limit: number,
    after?: string,
  ): Promise<RowPage> {
    const statement = this.pageStatement(filter, limit + 1, after);
    const rows = await this.sql.read(statement.text, statement.params);
    const shown = rows.slice(0, limit);
    const last = shown[shown.length - 1];
    return {
      rows: shown,
      next:
        rows.length > limit && last
          ? encodeCursor({
              seq: Number(last.seq),
              finishedAt: statement.byFinish
                ? Number(last.finished_at)
                : undefined,
            })
          : null,
    };
  }

  /** The SELECT of a page of at most `limit` rows (see `page`): what the plan test explains. */
  pageStatement(
    filter: ResultFilter,
    limit: number,
    after?: string,
  ): { text: string; params: unknown[]; byFinish: boolean } {
    const byFinish =
      filter.status !== undefined && isFinishedStatus(filter.status);
    const cursor = after === undefined ? undefined : parseCursor(after);
    if (cursor && byFinish !== (cursor.finishedAt !== undefined))
      throw new TasksError(TaskMessages.badResultCursor(after ?? ''));
    const sql = new SqlBuilder(this.sql.dialect);
    const where = [this.matching(sql, filter)];
    // Implied by a finished status, spelled out for the partial index.
    if (byFinish) where.push('finished_at IS NOT NULL');
    if (cursor?.finishedAt !== undefined) {
      const at = cursor.finishedAt;
      where.push(
        `finished_at <= ${sql.p(at, 'bigint')} AND (finished_at < ${sql.p(at, 'bigint')} OR seq < ${sql.p(cursor.seq, 'bigint')})`,
      );
    } else if (cursor) where.push(`seq < ${sql.p(cursor.seq, 'bigint')}`);
    const conditions = where.filter(Boolean).join(' AND ');
    const text =
      `SELECT * FROM ${this.tasks}${conditions ? ` WHERE ${conditions}` : ''} ` +
      `ORDER BY ${byFinish ? 'finished_at DESC, seq DESC' : 'seq DESC'} LIMIT ${sql.p(limit, 'integer')}`;
    return { text, params: sql.params, byFinish };
  }

  /** Rows finished at or after `since`, counted per `bucketMs`, queue and status. */
  async activity(since: number, bucketMs: number): Promise<ActivityRow[]> {
    const sql = new SqlBuilder(this.sql.dialect);
    const bucket = `finished_at - finished_at % ${sql.p(bucketMs, 'bigint')}`;
    const finished = [TaskResultStatus.SUCCESSFUL, FAILED, CANCELLED];
    const rows = await this.sql.read(
      `SELECT ${bucket} AS bucket, queue_name, status, COUNT(*) AS count FROM ${this.tasks} ` +
        `WHERE status IN (${sql.list(finished, 'text')}) AND finished_at >= ${sql.p(since, 'bigint')} ` +
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
        `WHERE r.id = ${sql.p(id, 'text')} AND h.id <> r.id AND h.status IN ('${READY}', '${SCHEDULED}', '${TaskResultStatus.RUNNING}')`,
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

  /** The conditions of `filter`, joined by AND (empty: every row). */
  private matching(sql: SqlBuilder, filter: ResultFilter): string {
    const conditions: string[] = [];
    if (filter.id !== undefined)
      conditions.push(`id = ${sql.p(filter.id, 'text')}`);
    if (filter.status !== undefined)
      conditions.push(
        `status IN (${sql.list(storedStatuses([filter.status]), 'text')})`,
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
