/**
 * The one definition of the DatabaseBackend's tables and of the outbox
 * table. Every dialect's DDL (run by `taskMigrations`, and by the backend
 * itself under `synchronize: true`), the row mapping and the `TaskRecord` /
 * `TaskWorkerRecord` / `TaskScheduleRecord` / `TaskOutboxRecord` entities
 * are derived from the lists in this file.
 */

/** The logical type of a column; each dialect spells it in its own DDL. */
export type ColumnType =
  'seq' | 'id' | 'name' | 'short' | 'text' | 'bigint' | 'integer' | 'double';

/** Lengths of the VARCHAR column types. */
export const VARCHAR_LENGTHS = { id: 36, name: 255, short: 100 } as const;

export interface ColumnSpec {
  /** snake_case; the entity property is its camelCase form. */
  name: string;
  /** `seq` is the auto-incremented primary key by itself. */
  type: ColumnType;
  nullable?: boolean;
  /** Part of the table's primary key. */
  primary?: boolean;
  /** Unique, by a constraint named `<table>_<column>`. */
  unique?: boolean;
  /**
   * The suffix of a partial index that this column stands in for where the
   * database has no partial indexes (MySQL/MariaDB), and only there: a
   * column the database generates, holding one of the index's columns
   * while the index's condition holds and NULL otherwise, indexed in that
   * column's place. For a unique index it holds the last column's bytes
   * (NULLs never collide). For any other (see `leads`) it holds `status`
   * and leads the index: the index keeps its rows' entries together, found
   * by the stand-in's value, and a row's entry changes only when the row
   * enters or leaves the index or another of its columns changes, so a
   * claim or a completion leaves the entries of the indexes it does not
   * concern as they were. Never written: it is neither an insert column
   * nor a property of the entity.
   */
  standsInFor?: string;
  /** Set on a column that stands in for an index that is not unique, which it leads. */
  leads?: true;
}

/** The tasks table, column by column. */
export const TASK_COLUMNS = [
  { name: 'seq', type: 'seq' },
  { name: 'id', type: 'id', unique: true },
  { name: 'task_name', type: 'name' },
  { name: 'backend', type: 'short' },
  { name: 'queue_name', type: 'short' },
  { name: 'priority', type: 'integer' },
  { name: 'status', type: 'short' },
  { name: 'args', type: 'text' },
  { name: 'run_after', type: 'bigint', nullable: true },
  { name: 'available_at', type: 'bigint' },
  { name: 'enqueued_at', type: 'bigint' },
  { name: 'started_at', type: 'bigint', nullable: true },
  { name: 'finished_at', type: 'bigint', nullable: true },
  { name: 'last_attempted_at', type: 'bigint', nullable: true },
  { name: 'attempts', type: 'integer' },
  { name: 'max_attempts', type: 'integer' },
  { name: 'worker_ids', type: 'text' },
  { name: 'errors', type: 'text' },
  { name: 'return_value', type: 'text', nullable: true },
  { name: 'progress', type: 'double', nullable: true },
  { name: 'metadata', type: 'text' },
  { name: 'unique_key', type: 'name', nullable: true },
  { name: 'worker_id', type: 'short', nullable: true },
  { name: 'lease_expires_at', type: 'bigint', nullable: true },
  {
    name: 'held_unique_key',
    type: 'name',
    nullable: true,
    standsInFor: 'unique',
  },
  /** When the cancel of a RUNNING row was requested: its attempt ends CANCELLED, never retried. */
  { name: 'cancel_requested_at', type: 'bigint', nullable: true },
  {
    name: 'claim_status',
    type: 'short',
    nullable: true,
    standsInFor: 'claim',
    leads: true,
  },
  {
    name: 'finished_status',
    type: 'short',
    nullable: true,
    standsInFor: 'finished',
    leads: true,
  },
  {
    name: 'scheduled_status',
    type: 'short',
    nullable: true,
    standsInFor: 'scheduled',
    leads: true,
  },
] as const satisfies readonly ColumnSpec[];

/** The workers table. */
export const WORKER_COLUMNS = [
  { name: 'id', type: 'short', primary: true },
  { name: 'hostname', type: 'name' },
  { name: 'pid', type: 'integer' },
  { name: 'queues', type: 'text' },
  { name: 'concurrency', type: 'integer' },
  { name: 'started_at', type: 'bigint' },
  { name: 'heartbeat_at', type: 'bigint' },
] as const satisfies readonly ColumnSpec[];

/** The schedules table: per periodic task, the last tick enqueued (epoch ms). */
export const SCHEDULE_COLUMNS = [
  { name: 'task_name', type: 'name', primary: true },
  { name: 'last_tick', type: 'bigint' },
] as const satisfies readonly ColumnSpec[];

/**
 * The outbox table: enqueues made in a transaction for a backend that cannot
 * join it, written in that transaction and relayed to the backend once it
 * has committed. A row is due for a worker's sweep from `available_at` (by
 * the database's clock): a grace period after it was written, then a lease
 * after each sweep that took it.
 */
export const OUTBOX_COLUMNS = [
  { name: 'seq', type: 'seq' },
  /** The task result's id, allocated at enqueue. */
  { name: 'id', type: 'id', unique: true },
  /** The alias of the backend it is relayed to. */
  { name: 'backend', type: 'short' },
  /** The new result's state as JSON (see `outbox-row.ts`). */
  { name: 'payload', type: 'text' },
  { name: 'available_at', type: 'bigint' },
] as const satisfies readonly ColumnSpec[];

/** The name of a column of the tasks table. */
export type TaskColumnName = (typeof TASK_COLUMNS)[number]['name'];

/** The name of a column of the outbox table. */
export type OutboxColumnName = (typeof OUTBOX_COLUMNS)[number]['name'];

/** A column the database fills in itself: the `seq` key, or a stand-in for an index. */
type GeneratedColumn = { type: 'seq' } | { standsInFor: string };

/** The name of a column an enqueue writes. */
export type InsertColumnName = Exclude<
  (typeof TASK_COLUMNS)[number],
  GeneratedColumn
>['name'];

/** Columns written by an enqueue (all but the generated ones). */
export const INSERT_COLUMNS: readonly ColumnSpec[] = TASK_COLUMNS.filter(
  (column: ColumnSpec) => column.type !== 'seq' && !column.standsInFor,
);

/**
 * An index of a table (by default the tasks table), named
 * `<table>_<suffix>`; `partial` is honoured where the database has partial
 * indexes. Elsewhere a partial index is led by a column that stands in for
 * it (see `ColumnSpec.standsInFor`), or, without one, by `status` (the
 * column of its condition).
 */
export interface IndexSpec<Column extends string = TaskColumnName> {
  suffix: string;
  columns: readonly (Column | `${Column} DESC`)[];
  partial?: string;
  unique?: boolean;
}

/**
 * The stored status of a READY result not due yet when it was written:
 * kept out of the claim index (see `stored-status.ts`).
 */
export const SCHEDULED = 'SCHEDULED';

/** The READY rows in the order claims take them. */
export const CLAIM_INDEX: IndexSpec = {
  suffix: 'claim',
  columns: ['priority DESC', 'available_at', 'seq'],
  partial: `status = 'READY'`,
};

/**
 * The stored statuses of a result that holds its unique key, as an SQL
 * list in the order the unique index's condition spells them: a query
 * that the index serves spells them alike (SQLite matches a partial
 * index's condition to a query's terms as they are written).
 */
export const KEY_HOLDING_STATUSES = `('READY', 'RUNNING', '${SCHEDULED}')`;

/**
 * At most one READY (or SCHEDULED: see `SCHEDULED`) or RUNNING result per
 * task and unique key: what makes unique tasks race-free, and what an
 * enqueue of one looks its holder up by.
 */
export const UNIQUE_KEY_INDEX: IndexSpec = {
  suffix: 'unique',
  columns: ['task_name', 'unique_key'],
  partial: `unique_key IS NOT NULL AND status IN ${KEY_HOLDING_STATUSES}`,
  unique: true,
};

/** The finished rows by status and finish time: what pruning, the finished results' lists and their counts walk. */
export const FINISHED_INDEX: IndexSpec = {
  suffix: 'finished',
  columns: ['status', 'finished_at'],
  partial: 'finished_at IS NOT NULL',
};

/** The deferred rows by due time: what promoting the due ones walks. */
export const SCHEDULED_INDEX: IndexSpec = {
  suffix: 'scheduled',
  columns: ['available_at'],
  partial: `status = '${SCHEDULED}'`,
};

/**
 * The only definition of the indexes: the entities declare none. Only rows
 * that a query looks for are in each: the claim index holds READY rows
 * alone (deferred ones wait in the scheduled index), the unique index
 * unique tasks alone, and the one that serves pruning finished rows alone,
 * so an enqueue writes one entry in these besides its keys' (a unique
 * task two). In the order the migrations leave them, which SQLite keeps
 * (the last one created or replaced comes last).
 */
export const TASK_INDEXES: readonly IndexSpec[] = [
  CLAIM_INDEX,
  {
    suffix: 'lease',
    columns: ['lease_expires_at'],
    partial: `status = 'RUNNING'`,
  },
  FINISHED_INDEX,
  UNIQUE_KEY_INDEX,
  SCHEDULED_INDEX,
];

/** The outbox table's index: exactly what a sweep looks rows up by, in its order. */
export const OUTBOX_INDEXES: readonly IndexSpec<OutboxColumnName>[] = [
  { suffix: 'relay', columns: ['backend', 'available_at', 'seq'] },
];

/** The schema this version reads and writes: what `synchronize` creates and the migrations end at. */
export const CURRENT_SCHEMA = {
  taskColumns: TASK_COLUMNS,
  workerColumns: WORKER_COLUMNS,
  scheduleColumns: SCHEDULE_COLUMNS,
  indexes: TASK_INDEXES,
  outboxColumns: OUTBOX_COLUMNS,
  outboxIndexes: OUTBOX_INDEXES,
};
