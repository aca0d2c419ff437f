// Longer than most files here on purpose: every statement on the tasks
// table, for all three databases, in one place, so that the guards they share
// (held by this worker, this attempt, a lease by the database clock) stay
// visibly the same.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EntityManager, QueryRunner } from 'typeorm';
import { TaskResultStatus } from '../../task/task-result-status.js';
import type { CompletionReport } from '../worker-queue.js';
import type { InsertWake, TakeParts } from './dialects/dialect.js';
import type { SqlConnection, TaskRow } from './sql-connection.js';
import { SqlBuilder } from './sql-builder.js';
import {
  CLAIM_INDEX,
  INSERT_COLUMNS,
  KEY_HOLDING_STATUSES,
  SCHEDULED_INDEX,
  UNIQUE_KEY_INDEX,
  type ColumnSpec,
  type IndexSpec,
} from './task-columns.js';
import type { Completion, NewRow } from './task-row.js';
import { SCHEDULED, rowsOfStatus, storedStatusesOf } from './stored-status.js';
import { idChunks } from './sql-builder.js';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';

const { READY, RUNNING, CANCELLED } = TaskResultStatus;

/** The stored statuses of a result that holds its unique key: READY (due or deferred) or RUNNING. */
const HOLDING = `status IN ${KEY_HOLDING_STATUSES}`;

/** The stored statuses of a READY result: due, or deferred. */
const PENDING = `status IN ('${READY}', '${SCHEDULED}')`;

/**
 * How soon a deferred row must fall due for its insert to tell listening
 * workers when (PostgreSQL): sooner than their next polling pass would find
 * it. Later ones are found by that pass, which also reads when the next
 * deferred row falls due.
 */
const NOTIFY_DUE_WITHIN_MS = 60_000;

/** A row whose cancel was requested: whatever ends its attempt makes it CANCELLED. */
const CANCEL_REQUESTED = 'cancel_requested_at IS NOT NULL';

/**
 * A condition the planner can neither look up in an index nor estimate from
 * statistics: it counts it true for half the rows. Rows named by id and
 * fenced by it are found through the ids' index however stale the
 * statistics are. Right after a burst of claims they still count no
 * RUNNING row and no worker id, and a planner that trusted them would read
 * every RUNNING row once per id, or walk the lease index instead.
 */
const opaque = (condition: string): string =>
  `CASE WHEN ${condition} THEN TRUE ELSE FALSE END`;

/** A row's place in claim order: its priority, due time and enqueue order. */
export interface ClaimPosition {
  priority: number;
  availableAt: number;
  /** As the driver reads it: a BIGINT may exceed what a number holds exactly. */
  seq: string;
}

/** What a heartbeat learns of the rows a worker holds. */
export interface HeldRows {
  /** The ids it still holds in the given attempt. */
  held: Set<string>;
  /** Those of them whose cancel was requested. */
  cancelled: Set<string>;
}

/**
 * How many times an enqueue inserts the rows of unique keys whose holder
 * finished between its insert and its lookup, before it gives up.
 */
const UNIQUE_KEY_ROUNDS = 10;

/** A task name and unique key as one map key. */
const heldKey = (taskName: unknown, uniqueKey: unknown): string =>
  JSON.stringify([String(taskName), String(uniqueKey)]);

/** Orders rows by task name, then unique key. */
const byTaskAndKey = (a: NewRow, b: NewRow): number =>
  compare(String(a.task_name), String(b.task_name)) ||
  compare(String(a.unique_key), String(b.unique_key));

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The outcomes a completion writes, as a recordset `o` (its names apart from the table's). */
const OUTCOME_COLUMNS: readonly ColumnSpec[] = [
  { name: 'o_id', type: 'id' },
  { name: 'o_worker_id', type: 'short' },
  { name: 'o_attempt', type: 'integer' },
  { name: 'o_status', type: 'short' },
  { name: 'o_finished_at', type: 'bigint' },
  { name: 'o_return_value', type: 'text' },
  { name: 'o_errors', type: 'text' },
  { name: 'o_worker_ids', type: 'text' },
  { name: 'o_available_at', type: 'bigint' },
];

/** The claims a release hands back, as a recordset `o`. */
const RELEASE_COLUMNS: readonly ColumnSpec[] = [
  { name: 'o_id', type: 'id' },
  { name: 'o_attempt', type: 'integer' },
];

/**
 * This host's clock now, as a literal: the SET of `updateById` comes before
 * or after its recordset depending on the dialect, so it takes no
 * parameters (positional placeholders would land out of order).
 */
const nowLiteral = (): string => String(Date.now());

function outcomeRow(completion: Completion): Record<string, unknown> {
  return {
    o_id: completion.id,
    o_worker_id: completion.workerId,
    o_attempt: completion.attempt,
    o_status: completion.status,
    o_finished_at: completion.finishedAt,
    o_return_value: completion.returnValue,
    o_errors: completion.errors,
    o_worker_ids: completion.workerIds,
    o_available_at: completion.availableAt,
  };
}

/** Every statement on the tasks table, written once for all dialects. */
export class TaskStore {
  private readonly tasks: string;

  constructor(readonly sql: SqlConnection) {
    this.tasks = sql.dialect.quote(sql.tables.tasks);
  }

  private get dialect() {
    return this.sql.dialect;
  }

  /** Inserts rows (already encoded), joining `manager`'s transaction when given. */
  async insert(
    rows: NewRow[],
    manager?: EntityManager | null,
    joinShared = true,
  ): Promise<void> {
    const chunks = [...this.dialect.chunks(rows)];
    await this.writeRows(
      manager,
      chunks.length > 1,
      async (runner) => {
        for (const chunk of chunks) await this.insertChunk(runner, chunk);
      },
      joinShared,
    );
  }

  /**
   * Inserts rows (already encoded) as `insert` does, but not a row whose
   * task and unique key a READY or RUNNING row already holds: the unique
   * index refuses it, and the statement skips it without an error (an error
   * would abort a PostgreSQL transaction). Returns, by the id of each row
   * not inserted, the row that holds its key, read after the insert; a key
   * whose holder finished in between is inserted again. Rows without a key
   * are inserted as they are. In `manager`'s transaction, or one of the
   * store's.
   */
  async insertUnique(
    rows: NewRow[],
    manager?: EntityManager | null,
    joinShared = true,
  ): Promise<Map<string, TaskRow>> {
    const skip = this.dialect.skipConflictsSql(
      this.sql.tables,
      UNIQUE_KEY_INDEX,
    );
    // In one order of task and key whatever the caller's, so that enqueues
    // sharing keys lock them in the same order and never deadlock.
    const sorted = [...rows].sort(byTaskAndKey);
    // In a transaction even for one row, so that a failed lookup leaves
    // nothing stored; but where transactions share the one connection
    // (SQLite), concurrent enqueues cannot each open one: there only when
    // it takes several statements, as `insert` does.
    const atomic =
      !this.dialect.serialTransactions ||
      [...this.dialect.chunks(sorted)].length > 1;
    return this.writeRows(
      manager,
      atomic,
      async (runner) => {
        const holders = new Map<string, TaskRow>();
        let pending = sorted;
        for (let round = 1; pending.length > 0; round++) {
          if (round > UNIQUE_KEY_ROUNDS)
            throw new InvalidTaskBackendError(
              TaskMessages.uniqueKeysUnsettled(
                String(pending[0].task_name),
                pending.map((row) => String(row.unique_key)),
                UNIQUE_KEY_ROUNDS,
              ),
            );
          const unsettled: NewRow[] = [];
          for (const chunk of this.dialect.chunks(pending)) {
            const inserted = await this.insertChunk(runner, chunk, skip);
            // Without the ids inserted (MySQL), every key is looked up: a row of this chunk holding it was inserted.
            const refused = chunk.filter(
              (row) =>
                row.unique_key !== null && !inserted?.has(String(row.id)),
            );
            const held = await this.heldKeys(runner, refused);
            for (const row of refused) {
              const holder = held.get(heldKey(row.task_name, row.unique_key));
              if (!holder) unsettled.push(row);
              else if (String(holder.id) !== row.id)
                holders.set(String(row.id), holder);
            }
          }
          pending = unsettled;
        }
        return holders;
      },
      joinShared,
    );
  }

  /**
   * The READY (due or deferred) or RUNNING rows that hold the unique keys
   * of `rows`, by task and key (as `heldKey` spells them), keys compared
   * byte for byte as the unique index compares them. Where a snapshot shows a key held by a row
   * of `rows` and by another, the row of `rows`.
   */
  private async heldKeys(
    runner: QueryRunner,
    rows: readonly NewRow[],
  ): Promise<Map<string, TaskRow>> {
    if (rows.length === 0) return new Map();
    const distinct = (values: unknown[]) => [...new Set(values)];
    // The column the unique index holds, which compares as the index does (its lookups go through it).
    const key = this.dialect.indexedColumns(UNIQUE_KEY_INDEX).at(-1);
    const sql = new SqlBuilder(this.dialect);
    const names = sql.list(distinct(rows.map((row) => row.task_name)), 'text');
    const keys = distinct(rows.map((row) => row.unique_key))
      .map((value) => this.dialect.exact(sql.p(value, 'text')))
      .join(', ');
    const found: TaskRow[] = (
      await runner.query(
        `SELECT * FROM ${this.through(UNIQUE_KEY_INDEX)} WHERE task_name IN (${names}) AND ${key} IN (${keys}) ` +
          `AND ${HOLDING}${this.dialect.latestRowsSql}`,
        sql.params,
        true,
      )
    ).records;
    const ours = new Set(rows.map((row) => String(row.id)));
    const held = new Map<string, TaskRow>();
    for (const row of found) {
      const id = heldKey(row.task_name, row.unique_key);
      if (!ours.has(String(held.get(id)?.id))) held.set(id, row);
    }
    return held;
  }

  /**
   * One INSERT of rows, waking listening workers; `conflicts` is a clause
   * that skips rows the unique index refuses. With it, returns the ids of
   * the rows inserted where the database can tell (else null).
   */
  private async insertChunk(
    runner: QueryRunner,
    chunk: readonly NewRow[],
    conflicts?: string,
  ): Promise<Set<string> | null> {
    const sql = new SqlBuilder(this.dialect);
    const names = INSERT_COLUMNS.map((column) => column.name).join(', ');
    const returnsIds = conflicts !== undefined && this.dialect.returningInserts;
    const insert =
      `INSERT INTO ${this.tasks} (${names}) SELECT ${names} ` +
      `FROM ${this.dialect.recordset(chunk, INSERT_COLUMNS, 'r', sql)}` +
      // SQLite reads an ON right after the FROM as a join's; the WHERE separates them.
      (conflicts ? ` WHERE true ${conflicts}` : '') +
      (returnsIds ? ' RETURNING id' : '');
    const text = this.dialect.wakeOnInsert(
      insert,
      sql,
      this.sql.tables.tasks,
      this.wakeFor(chunk),
      returnsIds,
    );
    this.dialect.assertFits(text, sql.params);
    const result = await runner.query(text, sql.params, true);
    if (!returnsIds) return null;
    return new Set((result.records as TaskRow[]).map((row) => String(row.id)));
  }

  /** Whom inserting `rows` concerns: claims (READY rows), or promotions soon (deferred rows due within `NOTIFY_DUE_WITHIN_MS`). */
  private wakeFor(rows: readonly NewRow[]): InsertWake {
    const horizon = Date.now() + NOTIFY_DUE_WITHIN_MS;
    let ready = false;
    let dueAt: number | null = null;
    for (const row of rows) {
      const at = Number(row.available_at);
      if (row.status !== SCHEDULED) ready = true;
      else if (at <= horizon && (dueAt === null || at < dueAt)) dueAt = at;
    }
    return { ready, dueAt };
  }

  /**
   * Runs `write` in `manager`'s transaction (or, with `joinShared`, the one
   * the application holds on a shared connection), else on a connection of
   * the store's, in a transaction of its own when `atomic`.
   */
  private async writeRows<T>(
    manager: EntityManager | null | undefined,
    atomic: boolean,
    write: (runner: QueryRunner) => Promise<T>,
    joinShared = true,
  ): Promise<T> {
    const joined =
      manager?.queryRunner ??
      (joinShared
        ? this.dialect.sharedTransaction(
            this.sql.dataSource,
            this.sql.connection,
          )
        : null);
    if (joined) return write(joined);
    return this.sql.withRunner((runner) =>
      atomic ? this.sql.inTransaction(runner, write) : write(runner),
    );
  }

  /** Claims up to `limit` READY rows (of `queues`, or every queue when null) for a worker. */
  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
    leaseMs: number,
    /** Only rows that come after this one in claim order. */
    after?: ClaimPosition,
  ): Promise<TaskRow[]> {
    const parts = this.claimParts(workerId, queues, limit, leaseMs, after);
    return this.sql.withRunner((runner) =>
      this.dialect.take(runner, this.sql.tables.tasks, parts),
    );
  }

  /** The pieces of a claim, for the dialect to put together. */
  claimParts(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
    leaseMs: number,
    after?: ClaimPosition,
  ): TakeParts {
    const now = Date.now();
    return {
      select: (sql) => this.selectReady(sql, queues, limit, now, after),
      set: (sql) =>
        `status = '${RUNNING}', worker_id = ${sql.p(workerId, 'text')}, attempts = attempts + 1, ` +
        `started_at = COALESCE(started_at, ${sql.p(now, 'bigint')}), last_attempted_at = ${sql.p(now, 'bigint')}, ` +
        `lease_expires_at = ${this.leaseFromNow(sql, leaseMs)}`,
      returning: '*',
    };
  }

  /**
   * The claim query's row selection: what the claim index serves. It holds
   * READY rows only, so deferred ones (SCHEDULED) are never walked; the
   * due-time condition still guards against a READY row written ahead of
   * its time (by a host whose clock runs ahead). With `after`, the walk
   * starts past that row.
   */
  selectReady(
    sql: SqlBuilder,
    queues: readonly string[] | null,
    limit: number,
    now: number,
    after?: ClaimPosition,
  ): string {
    const { rows } = this.dialect.readThrough(CLAIM_INDEX);
    return (
      `SELECT seq FROM ${this.through(CLAIM_INDEX)} WHERE ${rows} AND available_at <= ${sql.p(now, 'bigint')}` +
      (queues ? ` AND queue_name IN (${sql.list(queues, 'text')})` : '') +
      (after ? ` AND ${this.comesAfter(sql, after)}` : '') +
      ` ORDER BY priority DESC, available_at, seq LIMIT ${sql.p(limit, 'integer')}`
    );
  }

  /** Rows after `position` in claim order (priority first, then due time, then enqueue order), as ranges of the claim index. */
  private comesAfter(sql: SqlBuilder, position: ClaimPosition): string {
    const priority = () => sql.p(position.priority, 'integer');
    const due = () => sql.p(position.availableAt, 'bigint');
    return (
      `(priority < ${priority()} OR (priority = ${priority()} AND ` +
      `(available_at > ${due()} OR (available_at = ${due()} AND seq > ${sql.p(position.seq, 'bigint')}))))`
    );
  }

  /**
   * Writes the outcome of many attempts in one statement. A row is only
   * written while the same worker still holds the same attempt, so a
   * rescued task is never overwritten by its old worker. A row whose cancel
   * was requested is written CANCELLED (keeping the outcome's errors, not
   * its return value), whatever the outcome says: a cancel that arrived
   * after the worker's last heartbeat still wins over a retry. Returns the
   * ids written, and which of them were cancelled.
   */
  async complete(
    completions: readonly Completion[],
    /** For a rescue by this worker: only rows whose lease ran out and whose worker is gone. */
    rescuer?: string,
    /** Write in this transaction (a transactional attempt's) instead of one of the store's own. */
    transaction?: QueryRunner,
  ): Promise<CompletionReport> {
    if (completions.length === 0) return { written: [], cancelled: [] };
    const outcomes = (sql: SqlBuilder) =>
      this.dialect.recordset(
        completions.map(outcomeRow),
        OUTCOME_COLUMNS,
        'o',
        sql,
      );
    const held = (sql: SqlBuilder) =>
      opaque(
        `status = '${RUNNING}' AND worker_id = o.o_worker_id AND attempts = o.o_attempt`,
      ) + (rescuer ? ` AND ${this.abandoned(sql, rescuer)}` : '');
    const update = (sql: SqlBuilder) =>
      this.dialect.updateById(
        this.sql.tables,
        outcomes(sql),
        `status = CASE WHEN ${CANCEL_REQUESTED} THEN '${CANCELLED}' ELSE o.o_status END, ` +
          `finished_at = CASE WHEN ${CANCEL_REQUESTED} THEN COALESCE(o.o_finished_at, ${nowLiteral()}) ELSE o.o_finished_at END, ` +
          `return_value = CASE WHEN ${CANCEL_REQUESTED} THEN NULL ELSE o.o_return_value END, ` +
          'errors = o.o_errors, worker_ids = o.o_worker_ids, ' +
          'available_at = COALESCE(o.o_available_at, available_at), worker_id = NULL, lease_expires_at = NULL',
        held(sql),
      );
    const report = (rows: TaskRow[]): CompletionReport => ({
      written: rows.map((row) => String(row.id)),
      cancelled: rows
        .filter((row) => row.cancel_requested_at != null)
        .map((row) => String(row.id)),
    });
    const write = async (runner: QueryRunner): Promise<CompletionReport> => {
      if (this.dialect.returningUpdates) {
        const sql = new SqlBuilder(this.dialect);
        const rows: TaskRow[] = (
          await runner.query(
            `${update(sql)} RETURNING ${this.tasks}.id, ${this.tasks}.cancel_requested_at`,
            sql.params,
            true,
          )
        ).records;
        return report(rows);
      }
      // Without RETURNING: lock the rows still held, then write them.
      const select = new SqlBuilder(this.dialect);
      const text = this.dialect.lockById(
        this.sql.tables,
        outcomes(select),
        ['id', 'cancel_requested_at'],
        held(select),
      );
      this.dialect.assertFits(text, select.params);
      const locked: TaskRow[] = (await runner.query(text, select.params, true))
        .records;
      if (locked.length === 0) return report([]);
      const sql = new SqlBuilder(this.dialect);
      await runner.query(update(sql), sql.params, true);
      return report(locked);
    };
    if (transaction) return write(transaction);
    return this.sql.withRunner((runner) =>
      this.dialect.returningUpdates
        ? write(runner)
        : this.sql.inTransaction(runner, write),
    );
  }

  /**
   * Makes claimed rows whose attempt never started READY again, as they
   * were before the claim (the attempt uncounted), if this worker still
   * holds them in that attempt; CANCELLED, if their cancel was requested.
   */
  async release(
    workerId: string,
    held: readonly { id: string; attempt: number }[],
  ): Promise<void> {
    if (held.length === 0) return;
    const sql = new SqlBuilder(this.dialect);
    const claims = this.dialect.recordset(
      held.map((task) => ({ o_id: task.id, o_attempt: task.attempt })),
      RELEASE_COLUMNS,
      'o',
      sql,
    );
    const first = 'o.o_attempt = 1';
    const text = this.dialect.updateById(
      this.sql.tables,
      claims,
      `started_at = CASE WHEN ${first} THEN NULL ELSE started_at END, ` +
        `last_attempted_at = CASE WHEN ${first} THEN NULL ELSE last_attempted_at END, ` +
        `finished_at = CASE WHEN ${CANCEL_REQUESTED} THEN ${nowLiteral()} ELSE finished_at END, ` +
        `status = CASE WHEN ${CANCEL_REQUESTED} THEN '${CANCELLED}' ELSE '${READY}' END, ` +
        'attempts = attempts - 1, worker_id = NULL, lease_expires_at = NULL',
      opaque(
        `status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')} AND attempts = o.o_attempt`,
      ),
    );
    await this.sql.write(text, sql.params);
  }

  /**
   * Extends, measured from the database's clock now, the leases of the rows
   * a worker holds; returns the ids it still holds in the given attempt,
   * and which of those have had their cancel requested.
   */
  async extendLeases(
    workerId: string,
    held: readonly { id: string; attempt: number }[],
    leaseMs: number,
  ): Promise<HeldRows> {
    if (held.length === 0) return { held: new Set(), cancelled: new Set() };
    const ids = held.map((task) => task.id);
    const mine = (sql: SqlBuilder) =>
      `${this.dialect.idIn(ids, sql)} AND ` +
      opaque(
        `status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')}`,
      );
    const update = new SqlBuilder(this.dialect);
    await this.sql.write(
      `UPDATE ${this.tasks} SET lease_expires_at = ${this.leaseFromNow(update, leaseMs)} WHERE ${mine(update)}`,
      update.params,
    );
    const read = new SqlBuilder(this.dialect);
    const rows = await this.sql.read(
      `SELECT id, attempts, cancel_requested_at FROM ${this.tasks} WHERE ${mine(read)}`,
      read.params,
    );
    const attempts = new Map(
      rows.map((row) => [String(row.id), Number(row.attempts)]),
    );
    const stillHeld = new Set(
      held
        .filter((task) => attempts.get(task.id) === task.attempt)
        .map((task) => task.id),
    );
    return {
      held: stillHeld,
      cancelled: new Set(
        rows
          .filter(
            (row) =>
              row.cancel_requested_at != null && stillHeld.has(String(row.id)),
          )
          .map((row) => String(row.id)),
      ),
    };
  }

  /** RUNNING rows of other workers whose lease has run out and whose worker is gone. */
  async expired(rescuer: string, limit: number): Promise<TaskRow[]> {
    const sql = new SqlBuilder(this.dialect);
    return this.sql.read(
      `SELECT * FROM ${this.tasks} WHERE status = '${RUNNING}' AND ${this.abandoned(sql, rescuer)} ` +
        `ORDER BY lease_expires_at LIMIT ${sql.p(limit, 'integer')}`,
      sql.params,
    );
  }

  /** RUNNING rows marked as this worker's whose lease ran out by the database's clock. */
  async orphaned(workerId: string, limit: number): Promise<TaskRow[]> {
    const sql = new SqlBuilder(this.dialect);
    return this.sql.read(
      `SELECT * FROM ${this.tasks} WHERE status = '${RUNNING}' AND lease_expires_at < ${this.dialect.clockMs} ` +
        `AND worker_id = ${sql.p(workerId, 'text')} ORDER BY lease_expires_at LIMIT ${sql.p(limit, 'integer')}`,
      sql.params,
    );
  }

  /** The tasks table in a FROM, read through `index` whatever the statistics say (see `Dialect.throughIndex`). */
  private through(index: IndexSpec): string {
    return `${this.tasks}${this.dialect.throughIndex(this.sql.tables, index)}`;
  }

  /** A lease from the database's clock now. */
  private leaseFromNow(sql: SqlBuilder, leaseMs: number): string {
    return `${this.dialect.clockMs} + ${sql.p(leaseMs, 'bigint')}`;
  }

  /** Held by a worker other than the rescuer, whose lease ran out by the database's clock and whose session is gone. */
  private abandoned(sql: SqlBuilder, rescuer: string): string {
    const lock = this.dialect.sessionLock;
    return (
      `lease_expires_at < ${this.dialect.clockMs} AND worker_id <> ${sql.p(rescuer, 'text')}` +
      (lock ? ` AND ${lock.gone(this.sql.tables.tasks, 'worker_id', sql)}` : '')
    );
  }

  /** The ids among `ids` that rows have. */
  async storedIds(ids: readonly string[]): Promise<Set<string>> {
    const stored = new Set<string>();
    for (const chunk of idChunks(ids)) {
      const sql = new SqlBuilder(this.dialect);
      const rows = await this.sql.read(
        `SELECT id FROM ${this.tasks} WHERE id IN (${sql.list(chunk, 'text')})`,
        sql.params,
      );
      for (const row of rows) stored.add(String(row.id));
    }
    return stored;
  }

  async find(id: string): Promise<TaskRow | undefined> {
    const sql = new SqlBuilder(this.dialect);
    const [row] = await this.sql.read(
      `SELECT * FROM ${this.tasks} WHERE id = ${sql.p(id, 'text')}`,
      sql.params,
    );
    return row;
  }

  /**
   * Cancels a row: a READY one becomes CANCELLED at once; a RUNNING one
   * records the request, which its worker learns at its next heartbeat and
   * which makes whatever ends the attempt write it CANCELLED. Returns the
   * row as it is then (none: no such id) and whether the cancel stands
   * (false: the row had finished).
   */
  async cancel(id: string): Promise<{ row?: TaskRow; accepted: boolean }> {
    const changed = await this.cancelWhere(
      (sql) => `id = ${sql.p(id, 'text')}`,
    );
    const row = await this.find(id);
    // A repeated request changes nothing, which some drivers count as no row.
    const requested =
      row?.status === RUNNING && row.cancel_requested_at != null;
    return { row, accepted: changed > 0 || requested };
  }

  /**
   * Cancels the READY (due or deferred) and RUNNING rows that `where`
   * selects (see `cancel`); returns how many it changed.
   */
  async cancelWhere(where: (sql: SqlBuilder) => string): Promise<number> {
    const sql = new SqlBuilder(this.dialect);
    const now = Date.now();
    // `status` is set last: MySQL reads a column assigned earlier in the statement as its new value.
    return this.sql.write(
      `UPDATE ${this.tasks} SET cancel_requested_at = COALESCE(cancel_requested_at, ${sql.p(now, 'bigint')}), ` +
        `finished_at = CASE WHEN ${PENDING} THEN ${sql.p(now, 'bigint')} ELSE finished_at END, ` +
        `status = CASE WHEN ${PENDING} THEN '${CANCELLED}' ELSE status END ` +
        `WHERE ${where(sql)} AND ${HOLDING}`,
      sql.params,
    );
  }

  async saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: string,
  ): Promise<void> {
    const sql = new SqlBuilder(this.dialect);
    await this.sql.write(
      `UPDATE ${this.tasks} SET progress = ${sql.p(progress, 'double')}, metadata = ${sql.p(metadata, 'text')} ` +
        `WHERE id = ${sql.p(id, 'text')} AND status = '${RUNNING}' AND worker_id = ${sql.p(workerId, 'text')}`,
      sql.params,
    );
  }

  /**
   * Deletes the rows of `statuses` finished before `finishedBefore`;
   * returns how many. Each stored status's rows are read through the index
   * that holds them in the order they finished, `batchSize` at a time, each
   * batch from where the previous one ended, so that no batch walks again
   * over the entries of rows already deleted (the database keeps them until
   * it cleans up). Each batch is deleted by its keys in a statement (a
   * transaction) of its own that checks its rows again: short locks on
   * finished rows only, never on the READY rows claims take. After each
   * full batch it waits as long as the batch took, so that a prune of
   * millions of rows keeps the database busy half of its time at most.
   */
  async prune(
    statuses: readonly TaskResultStatus[],
    finishedBefore: number,
    batchSize: number,
  ): Promise<number> {
    let total = 0;
    for (const status of statuses.flatMap(storedStatusesOf))
      total += await this.pruneStatus(status, finishedBefore, batchSize);
    return total;
  }

  private async pruneStatus(
    status: string,
    finishedBefore: number,
    batchSize: number,
  ): Promise<number> {
    const { where, order, index } = rowsOfStatus(status, this.dialect);
    const through = this.dialect.throughIndex(this.sql.tables, index);
    let total = 0;
    /** Where the next batch starts: at the last batch's finish time, or after it when nothing of it could be deleted. */
    let from: { at: number; inclusive: boolean } | null = null;
    for (;;) {
      const began = performance.now();
      const select = new SqlBuilder(this.dialect);
      const after: string = from
        ? ` AND finished_at ${from.inclusive ? '>=' : '>'} ${select.p(from.at, 'bigint')}`
        : '';
      const text: string =
        `SELECT seq, finished_at FROM ${this.tasks}${through} WHERE ${where}${after} ` +
        `AND finished_at < ${select.p(finishedBefore, 'bigint')} ORDER BY ${order} LIMIT ${select.p(batchSize, 'integer')}`;
      const rows: TaskRow[] = await this.sql.withRunner((runner) =>
        this.dialect.readInIndexOrder(runner, text, select.params),
      );
      if (rows.length === 0) return total;
      const remove = new SqlBuilder(this.dialect);
      const deleted = await this.sql.write(
        `DELETE FROM ${this.tasks} WHERE seq IN (${remove.list(
          rows.map((row) => row.seq),
          'bigint',
        )}) AND status = '${status}' AND finished_at < ${remove.p(finishedBefore, 'bigint')}`,
        remove.params,
      );
      total += deleted;
      if (rows.length < batchSize) return total;
      // Half the time at most: the database keeps room for the claims.
      await sleep(performance.now() - began);
      from = {
        at: Number(rows[rows.length - 1].finished_at),
        inclusive: deleted > 0,
      };
    }
  }

  /**
   * When the longest-waiting READY row became due (its `available_at`, at
   * or before `now`), or null when no READY row is due: read off the claim
   * index, which holds READY rows only, and the scheduled index, whose
   * first row may have fallen due before any worker promoted it.
   */
  async oldestDueReady(now: number): Promise<number | null> {
    const sql = new SqlBuilder(this.dialect);
    const [row] = await this.sql.read(
      this.selectOldestDueReady(sql, now),
      sql.params,
    );
    return row?.oldest == null ? null : Number(row.oldest);
  }

  /**
   * The query of `oldestDueReady`, a few lookups in the claim index (READY
   * rows by priority, then available_at) whatever the backlog: `levels`
   * steps from one READY priority to the next lower one, and the first row
   * of each level is its oldest; and one in the scheduled index, for the
   * first deferred row.
   */
  selectOldestDueReady(sql: SqlBuilder, now: number): string {
    const ready = `FROM ${this.tasks} r WHERE r.${this.dialect.readThrough(CLAIM_INDEX).rows}`;
    const deferred = `r.${this.dialect.readThrough(SCHEDULED_INDEX).rows}`;
    return (
      `WITH RECURSIVE levels (priority) AS (` +
      `SELECT (SELECT MAX(r.priority) ${ready}) ` +
      `UNION ALL SELECT (SELECT MAX(r.priority) ${ready} AND r.priority < levels.priority) ` +
      `FROM levels WHERE levels.priority IS NOT NULL) ` +
      `SELECT MIN(firsts.available_at) AS oldest FROM (` +
      `SELECT (SELECT MIN(r.available_at) ${ready} AND r.priority = levels.priority) AS available_at ` +
      `FROM levels WHERE levels.priority IS NOT NULL ` +
      `UNION ALL SELECT (SELECT MIN(r.available_at) FROM ${this.tasks} r WHERE ${deferred})) firsts ` +
      `WHERE firsts.available_at <= ${sql.p(now, 'bigint')}`
    );
  }

  /**
   * Makes up to `limit` deferred rows that have fallen due READY, the
   * earliest due first, skipping rows another worker is promoting; returns
   * how many it made READY, and when the first deferred row left falls due
   * (epoch ms: at or before now while more are due; null: none is left).
   * When none is due, one lookup in the scheduled index and nothing written.
   */
  async promoteDue(
    limit: number,
  ): Promise<{ promoted: number; nextDueAt: number | null }> {
    const first = await this.nextDeferred();
    if (first === null || first > Date.now())
      return { promoted: 0, nextDueAt: first };
    // Due by the time the statement is written, each time it is: the read
    // above may have waited behind a lock, and a busy or deadlocked take is
    // tried again, while more rows fell due. Promoted together, they are
    // claimed in priority order; left to the next pass, those due first
    // would be claimed before them.
    const promoted = await this.sql.withRunner((runner) =>
      this.dialect.take(
        runner,
        this.sql.tables.tasks,
        this.promotionParts(limit, Date.now()),
      ),
    );
    return { promoted: promoted.length, nextDueAt: await this.nextDeferred() };
  }

  /** The pieces of a promotion of up to `limit` rows due by `now`, for the dialect to put together. */
  promotionParts(limit: number, now: number): TakeParts {
    return {
      select: (sql) => this.selectDueDeferred(sql, limit, now),
      set: () => `status = '${READY}'`,
      returning: 'seq',
    };
  }

  /** The promotion's row selection: a range of the scheduled index, from its start to `now`. */
  selectDueDeferred(sql: SqlBuilder, limit: number, now: number): string {
    const { rows } = this.dialect.readThrough(SCHEDULED_INDEX);
    return (
      `SELECT seq FROM ${this.through(SCHEDULED_INDEX)} WHERE ${rows} AND available_at <= ${sql.p(now, 'bigint')} ` +
      `ORDER BY available_at LIMIT ${sql.p(limit, 'integer')}`
    );
  }

  /**
   * When the first deferred row falls due (epoch ms), or null when none is
   * deferred, or none ever falls due: the scheduled index's first entry.
   * SQLite stores what it is given, and sorts numbers first: a first entry
   * that is no number (text written by hand) is no time at all.
   */
  private async nextDeferred(): Promise<number | null> {
    const [row] = await this.sql.read(this.selectNextDeferred(), []);
    const at = Number(row?.available_at);
    return Number.isNaN(at) ? null : at;
  }

  /** The query of `nextDeferred`. */
  selectNextDeferred(): string {
    const { rows } = this.dialect.readThrough(SCHEDULED_INDEX);
    return `SELECT available_at FROM ${this.through(SCHEDULED_INDEX)} WHERE ${rows} ORDER BY available_at LIMIT 1`;
  }
}
