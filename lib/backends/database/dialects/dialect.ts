import type { DataSource, QueryRunner } from 'typeorm';
import { SqlBuilder, type SqlType } from '../sql-builder.js';
import type { TaskTables } from '../task-tables.js';
import { TaskMessages } from '../../../tasks.messages.js';
import {
  CURRENT_SCHEMA,
  type ColumnSpec,
  type IndexSpec,
  type TaskColumnName,
} from '../task-columns.js';
import {
  addColumnSql,
  alterTableSql,
  columnExists,
  createIndexSql,
  createTableSql,
  createTablesSql,
  heldColumn,
  indexColumns,
  modifyColumnSql,
  standInColumn,
  type DdlStyle,
  type TableChanges,
  type TaskSchema,
  type TaskTableKey,
} from './ddl.js';

/** How a query reads rows through an index (see `Dialect.readThrough`). */
export interface IndexRead {
  /** The condition that keeps a query to the index's rows ('' for every row). */
  rows: string;
  /** A column of the tasks table as the index holds it. */
  column(name: TaskColumnName): string;
}

/** The parameter type a value of each column type is cast to. */
const SQL_TYPE_OF: Record<ColumnSpec['type'], SqlType> = {
  seq: 'bigint',
  bigint: 'bigint',
  integer: 'integer',
  double: 'double',
  id: 'text',
  name: 'text',
  short: 'text',
  text: 'text',
};

/**
 * The pieces of a statement that takes rows no one else is taking (a claim,
 * a promotion of due deferred rows, a sweep of outbox rows) and writes
 * them, for the dialect to put together in the order its SQL needs them.
 */
export interface TakeParts {
  /** `SELECT seq FROM … WHERE … ORDER BY … LIMIT n`: the rows to take (no locking clause). */
  select(sql: SqlBuilder): string;
  /** The `SET` list written to each row taken. */
  set(sql: SqlBuilder): string;
  /** What is returned of each row taken: `*`, or a list of columns. */
  returning: string;
}

/** Whom the rows of an insert concern: workers claiming now, or promoting deferred rows at `dueAt`. */
export interface InsertWake {
  /** Some rows are READY: claims may take them now. */
  ready: boolean;
  /** The earliest time a deferred row falls due, when workers should hear of it (epoch ms), else null. */
  dueAt: number | null;
}

/** Told that rows were written: READY ones (no time), or deferred ones falling due at `dueAt` (epoch ms). */
export type OnWake = (dueAt?: number) => void;

/**
 * The worker session lock of a database that has one: a worker holds it on a
 * connection of its own for as long as it lives, so the database itself can
 * tell a live worker (session open, whatever its heartbeats) from a gone one.
 */
export interface SessionLockSql {
  /** Settings for the lock's connection, given the lease (e.g. how fast the server notices a vanished client). */
  prepare(leaseMs: number): string[];
  /** Takes the lock of `workerId` without waiting; returns one row whose `held` is true (1) when this session holds it. */
  acquire(namespace: string, workerId: string, sql: SqlBuilder): string;
  /** Releases every lock this session holds. */
  readonly releaseAll: string;
  /** A predicate that is true when no session holds the lock of the worker named in `column`. */
  gone(namespace: string, column: string, sql: SqlBuilder): string;
}

/** Rows as a JSON array of arrays, each the values of `columns` in order: what the JSON recordsets read by position. */
export function jsonRows(
  rows: readonly Record<string, unknown>[],
  columns: readonly ColumnSpec[],
): string {
  return JSON.stringify(
    rows.map((row) => columns.map((column) => row[column.name] ?? null)),
  );
}

/** The columns and indexes of a table, as far as the schema check compares them. */
export interface TableShape {
  columns: string[];
  indexes: { name: string; unique: boolean; partial: boolean }[];
}

/**
 * Everything that differs between databases. The backend and the worker only
 * talk to this interface; each database has one file.
 */
export abstract class Dialect {
  /**
   * The database's clock in epoch milliseconds, read when the statement
   * executes (after any lock wait): every lease is measured by it, never by
   * a host's clock.
   */
  abstract readonly clockMs: string;

  /** Whether the application's transactions share one connection, so that only one may be open at a time. */
  readonly serialTransactions: boolean = false;

  /**
   * Called first in a transactional attempt's transaction, on the task's
   * row: where it matters (SQLite), takes the database's write lock at once,
   * so the attempt never fails on a snapshot another connection changed.
   */
  async beginAttempt(
    _runner: QueryRunner,
    _tables: TaskTables,
    _id: string,
  ): Promise<void> {}

  /**
   * Whether the index entries of claimed rows linger until a background
   * purge (InnoDB), so that a claim from the head of the READY rows walks
   * every row claimed since the purge last ran: a worker's claims then
   * resume after the last row of its previous one.
   */
  readonly claimedEntriesLinger: boolean = false;

  /** Whether UPDATE … RETURNING exists here. */
  readonly returningUpdates: boolean = true;

  /** Whether INSERT … RETURNING exists here (and in every version of this database supported). */
  readonly returningInserts: boolean = true;

  /**
   * A character term as the unique index compares it: byte for byte. Itself
   * where the column's own comparison already is exact (PostgreSQL's and
   * SQLite's default collations).
   */
  exact(term: string): string {
    return term;
  }

  /** The worker session lock, or null where liveness is checked some other way (SQLite: the process on this host). */
  readonly sessionLock: SessionLockSql | null = null;

  placeholder(_index: number): string {
    return '?';
  }

  cast(placeholder: string, _type: SqlType): string {
    return placeholder;
  }

  /** How this database spells its tables. */
  protected abstract readonly ddl: DdlStyle;

  /** Driver error codes worth retrying at once (deadlock, lock wait, busy). */
  protected readonly transientErrors: readonly (string | number)[] = [];

  quote(identifier: string): string {
    return this.ddl.quote(identifier);
  }

  /** Whether indexes here may be partial (`CREATE INDEX … WHERE`). */
  get partialIndexes(): boolean {
    return this.ddl.partialIndexes;
  }

  /** Whether this database's tables have `column` (a stand-in for a partial index only where indexes cannot be partial). */
  hasColumn(column: ColumnSpec): boolean {
    return columnExists(this.ddl, column);
  }

  /**
   * The DataSource the backend runs its own statements on. Usually the
   * application's (its pool hands out separate connections); a database with
   * a single shared connection gets one of its own, so that the backend's
   * statements never land in a transaction the application has open.
   */
  async ownConnection(app: DataSource): Promise<DataSource> {
    return app;
  }

  /**
   * A transaction the application has open that an enqueue made now cannot
   * avoid joining (a single shared connection), or null.
   */
  sharedTransaction(_app: DataSource, _own: DataSource): QueryRunner | null {
    return null;
  }

  /** Per-connection settings applied before first use. */
  async prepare(_dataSource: DataSource): Promise<void> {}

  /**
   * Takes the rows of `table` (whose key is `seq`) that `parts` selects,
   * skipping those another statement is taking, writes them and returns
   * them, in one atomic step: by default one statement, `takeSql`.
   */
  async take(
    runner: QueryRunner,
    table: string,
    parts: TakeParts,
  ): Promise<Record<string, unknown>[]> {
    const sql = new SqlBuilder(this);
    const text = this.takeSql(this.quote(table), parts, sql);
    return (await runner.query(text, sql.params, true)).records;
  }

  /** The single statement that takes the rows of `table` that `parts` selects, writes and returns them. */
  protected takeSql(
    _table: string,
    _parts: TakeParts,
    _sql: SqlBuilder,
  ): string {
    throw new Error(TaskMessages.takeSqlMissing(this.constructor.name));
  }

  /** Rows per INSERT statement at most. */
  readonly insertChunk: number = 5000;

  /** About how many bytes a string value takes in a statement of many rows. */
  protected encodedLength(value: string): number {
    return value.length;
  }

  /** About how many bytes of values one statement may carry. */
  protected statementBytes(): number {
    return 16 * 1024 * 1024;
  }

  /** Splits rows into statements of at most `insertChunk` rows and about `statementBytes()` of values each. */
  *chunks<T extends Record<string, unknown>>(
    rows: readonly T[],
  ): Generator<T[]> {
    const budget = this.statementBytes();
    let chunk: T[] = [];
    let bytes = 0;
    for (const row of rows) {
      // Names and punctuation of each value, then the value.
      let size = 0;
      for (const name in row) {
        const value = row[name];
        size +=
          16 + (typeof value === 'string' ? this.encodedLength(value) : 8);
      }
      if (
        chunk.length > 0 &&
        (chunk.length >= this.insertChunk || bytes + size > budget)
      ) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(row);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  /**
   * A table expression named `alias` over `rows`, each an object keyed by
   * column name. One row travels as a parameter per value (as a plain
   * statement would); many as a few parameters whatever their number (see
   * `manyRows`), a value every row shares (the task name, the queue, the
   * worker) once.
   */
  recordset(
    rows: readonly Record<string, unknown>[],
    columns: readonly ColumnSpec[],
    alias: string,
    sql: SqlBuilder,
  ): string {
    const [first] = rows;
    const same = (column: ColumnSpec) => {
      const name = column.name;
      const value = first[name] ?? null;
      for (let i = 1; i < rows.length; i++)
        if ((rows[i][name] ?? null) !== value) return false;
      return true;
    };
    const fixed = rows.length > 0 ? columns.filter(same) : [];
    const values = fixed.map(
      (column) =>
        `${sql.p(first[column.name] ?? null, SQL_TYPE_OF[column.type])} AS ${column.name}`,
    );
    if (fixed.length === 0) return this.manyRows(rows, columns, alias, sql);
    if (fixed.length === columns.length)
      return `(SELECT ${values.join(', ')}) AS ${alias}`;
    // The values all rows share travel once; only the others row by row.
    const varying = columns.filter((column) => !fixed.includes(column));
    const inner = `${alias}_rows`;
    const names = varying.map((column) => `${inner}.${column.name}`);
    return (
      `(SELECT ${[...values, ...names].join(', ')} ` +
      `FROM ${this.manyRows(rows, varying, inner, sql)}) AS ${alias}`
    );
  }

  /**
   * `recordset` of several rows: a JSON document, or an array per column,
   * far cheaper to bind and plan than a parameter per value.
   */
  protected abstract manyRows(
    rows: readonly Record<string, unknown>[],
    columns: readonly ColumnSpec[],
    alias: string,
    sql: SqlBuilder,
  ): string;

  /** The SQL type a column of a recordset is read as. */
  protected columnType(column: ColumnSpec): string {
    return this.ddl.types[column.type];
  }

  /**
   * `UPDATE` of the tasks rows named by the `o_id` column of a recordset
   * `o` (`from`), which `set` and `where` may refer to.
   */
  updateById(
    tables: TaskTables,
    from: string,
    set: string,
    where: string,
  ): string {
    const table = this.quote(tables.tasks);
    return `UPDATE ${table} SET ${set} FROM ${from} WHERE ${table}.id = o.o_id AND ${where}`;
  }

  /** The condition that a row's id is one of `ids`. */
  idIn(ids: readonly string[], sql: SqlBuilder): string {
    return `id IN (${sql.list(ids, 'text')})`;
  }

  /**
   * How a query keeps to the rows of `index` (of the current schema) and
   * reads its columns, so that the index serves it: by the index's
   * condition and its columns; or, where a column stands in for the index
   * (see `ColumnSpec.standsInFor`), by that column, read in place of the
   * column it holds. A condition `status = '…'` becomes the stand-in's
   * equality, which the index's entries lead with: a locking read then
   * stops at the last of them, never locking the first entry past them.
   */
  readThrough(index: IndexSpec): IndexRead {
    const standIn = this.ddl.partialIndexes
      ? undefined
      : standInColumn(index, CURRENT_SCHEMA.taskColumns);
    if (!standIn) return { rows: index.partial ?? '', column: (name) => name };
    const held = heldColumn(index);
    const oneStatus = /^status = '\w+'$/.test(index.partial ?? '');
    return {
      rows: oneStatus
        ? index.partial!.replace(/^status/, standIn.name)
        : `${standIn.name} IS NOT NULL`,
      column: (name) => (name === held ? standIn.name : name),
    };
  }

  /**
   * Follows the tasks table in a FROM where a lookup must go through
   * `index` whatever the statistics say: empty where the planner finds it
   * by itself.
   */
  throughIndex(_tables: TaskTables, _index: IndexSpec): string {
    return '';
  }

  /**
   * Runs a read whose row selections each walk an index in its order and
   * stop at their LIMIT: where the planner could, trusting statistics that
   * lag behind the table, read and sort every row a selection matches
   * instead (PostgreSQL), it is kept to the index.
   */
  async readInIndexOrder(
    runner: QueryRunner,
    select: string,
    params: unknown[],
  ): Promise<Record<string, unknown>[]> {
    return (await runner.query(select, params, true)).records;
  }

  /**
   * How many rows the database expects `select` to return, by its own
   * statistics and without running it; null where it keeps none to tell.
   */
  async estimateRows(
    _runner: QueryRunner,
    _select: string,
    _params: unknown[],
  ): Promise<number | null> {
    return null;
  }

  /** Locks the tasks rows named by the `o_id` column of a recordset `o` that match `where`, and returns their `columns`. */
  lockById(
    tables: TaskTables,
    from: string,
    columns: readonly string[],
    where: string,
  ): string {
    const table = this.quote(tables.tasks);
    return `SELECT ${this.columnsOf(table, columns)} FROM ${table} JOIN ${from} ON ${table}.id = o.o_id WHERE ${where} FOR UPDATE`;
  }

  /** `columns` of `table`, qualified, for a select list. */
  protected columnsOf(table: string, columns: readonly string[]): string {
    return columns.map((column) => `${table}.${column}`).join(', ');
  }

  /**
   * An INSERT of one row into `table` that does nothing when a row with the
   * same primary key exists (and waits for one being inserted to commit).
   */
  insertIfAbsentSql(
    table: string,
    columns: readonly string[],
    values: readonly string[],
  ): string {
    return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${values.join(', ')}) ON CONFLICT DO NOTHING`;
  }

  /**
   * Wraps an INSERT so that committed rows wake the listening workers they
   * concern (`wake`, where the database can); one ending in `RETURNING id`
   * still returns the ids.
   */
  wakeOnInsert(
    insertSql: string,
    _sql: SqlBuilder,
    _channel: string,
    _wake: InsertWake,
    _returnsIds = false,
  ): string {
    return insertSql;
  }

  /** Calls `onWake` whenever an enqueue commits (as `wakeOnInsert` tells); returns a function that stops listening. */
  async listen(
    _dataSource: DataSource,
    _channel: string,
    _onWake: OnWake,
  ): Promise<() => Promise<void>> {
    return async () => {};
  }

  /** Whether a failed statement is worth retrying at once (deadlock, busy). */
  isTransient(error: unknown): boolean {
    return this.hasCode(error, (code) => this.transientErrors.includes(code));
  }

  /**
   * Whether the database refused the data itself (too large, invalid, out of
   * range): writing the same values again cannot succeed, unlike after a
   * lost connection.
   */
  isRefusal(error: unknown): boolean {
    return this.hasCode(error, (code) =>
      this.refusalErrors.some(
        (refusal) =>
          refusal === code ||
          (typeof refusal === 'string' &&
            typeof code === 'string' &&
            code.startsWith(refusal)),
      ),
    );
  }

  /** Driver error codes (or prefixes of string codes) meaning the data was refused. */
  protected readonly refusalErrors: readonly (string | number)[] = [];

  /**
   * Refuses, as the database would, a statement larger than the database
   * accepts (MySQL/MariaDB: `max_allowed_packet`, which otherwise may drop
   * the connection mid-write and look like an outage).
   */
  assertFits(_text: string, _params: readonly unknown[]): void {}

  /** Whether a statement failed because a table or column does not exist (the schema is missing or outdated). */
  isMissingTable(error: unknown): boolean {
    return this.hasCode(error, (code) =>
      this.missingTableErrors.includes(code),
    );
  }

  /** Driver error codes meaning a table or column does not exist. */
  protected readonly missingTableErrors: readonly (string | number)[] = [];

  private hasCode(
    error: unknown,
    matches: (code: string | number) => boolean,
  ): boolean {
    type DriverError = { code?: string; errno?: number };
    const failure = error as
      (DriverError & { driverError?: DriverError }) | null;
    const cause = failure?.driverError ?? failure;
    return [cause?.code, cause?.errno].some(
      (code) => code !== undefined && matches(code),
    );
  }

  /** DDL creating the tables and indexes of `schema` (by default the current one), or only of the tables in `only`. */
  createTablesSql(
    tables: TaskTables,
    schema: TaskSchema = CURRENT_SCHEMA,
    only?: readonly TaskTableKey[],
  ): string[] {
    return createTablesSql(this.ddl, tables, schema, only);
  }

  /** CREATE TABLE of one table with these columns. */
  createTableSql(table: string, columns: readonly ColumnSpec[]): string {
    return createTableSql(this.ddl, table, columns);
  }

  /** CREATE INDEX of one index (without a stand-in column) of `table`. */
  createIndexSql(table: string, index: IndexSpec<string>): string {
    return createIndexSql(this.ddl, table, index, []);
  }

  dropTableSql(table: string): string {
    return `DROP TABLE IF EXISTS ${this.quote(table)}`;
  }

  /**
   * DDL turning index `from` into index `to` (same name), or nothing where
   * this database spells both alike (MySQL/MariaDB have no partial indexes).
   * A column standing in for either (see `ColumnSpec.standsInFor`) is found
   * among `columns`.
   */
  replaceIndexSql(
    tables: TaskTables,
    from: IndexSpec,
    to: IndexSpec,
    columns: readonly ColumnSpec[] = [],
  ): string[] {
    const before = createIndexSql(this.ddl, tables.tasks, from, columns);
    const after = createIndexSql(this.ddl, tables.tasks, to, columns);
    if (before === after) return [];
    return [this.dropIndexSql(tables, from.suffix), after];
  }

  /** DDL creating one index of the tasks table; a column standing in for it is found among `columns`. */
  createTaskIndexSql(
    tables: TaskTables,
    index: IndexSpec,
    columns: readonly ColumnSpec[] = [],
  ): string {
    return createIndexSql(this.ddl, tables.tasks, index, columns);
  }

  /** DDL dropping one index of the tasks table. */
  dropTaskIndexSql(tables: TaskTables, index: IndexSpec): string {
    return this.dropIndexSql(tables, index.suffix);
  }

  /** DDL redefining a column of the tasks table; a column standing in for an index finds it among `indexes`. */
  modifyTaskColumnSql(
    tables: TaskTables,
    column: ColumnSpec,
    indexes: readonly IndexSpec[] = [],
  ): string {
    return modifyColumnSql(this.ddl, tables.tasks, column, indexes);
  }

  /** One ALTER TABLE of the tasks table making `changes` (MySQL/MariaDB: see `alterTableSql`). */
  alterTaskTableSql(tables: TaskTables, changes: TableChanges): string {
    return alterTableSql(this.ddl, tables.tasks, changes);
  }

  /** DDL adding a column to the tasks table; a column standing in for an index finds it among `indexes`. */
  addTaskColumnSql(
    tables: TaskTables,
    column: ColumnSpec,
    indexes: readonly IndexSpec[] = [],
  ): string {
    return addColumnSql(this.ddl, tables.tasks, column, indexes);
  }

  /** DDL dropping a column of the tasks table. */
  dropTaskColumnSql(tables: TaskTables, name: string): string {
    return `ALTER TABLE ${this.quote(tables.tasks)} DROP COLUMN ${this.quote(name)}`;
  }

  /** The columns of `index` of the current schema as this database indexes them. */
  indexedColumns(index: IndexSpec): string[] {
    return indexColumns(this.ddl, index, CURRENT_SCHEMA.taskColumns);
  }

  /**
   * The clause of an `INSERT … SELECT … WHERE …` that skips, without an
   * error and without aborting the transaction, each row whose values
   * another row already holds in the unique index `index`. The conflict
   * target repeats the index's condition, which a partial index needs.
   */
  skipConflictsSql(_tables: TaskTables, index: IndexSpec): string {
    const columns = index.columns.map((column) => this.quote(column));
    const where = index.partial ? ` WHERE ${index.partial}` : '';
    return `ON CONFLICT (${columns.join(', ')})${where} DO NOTHING`;
  }

  /**
   * Appended to a SELECT that must see the rows committed by now (and wait
   * for those another transaction is writing) even inside a transaction
   * whose snapshot is older: empty where each statement already reads the
   * latest rows, as PostgreSQL's READ COMMITTED and SQLite's single writer
   * do.
   */
  readonly latestRowsSql: string = '';

  protected dropIndexSql(tables: TaskTables, suffix: string): string {
    return `DROP INDEX ${this.quote(`${tables.tasks}_${suffix}`)}`;
  }

  /** The columns and indexes of `table`, or null when it does not exist. */
  async tableShape(
    runner: QueryRunner,
    table: string,
  ): Promise<TableShape | null> {
    const found = await runner.getTable(table);
    if (!found) return null;
    return {
      columns: found.columns.map((column) => column.name),
      indexes: found.indices.map((index) => ({
        name: index.name ?? '',
        unique: index.isUnique,
        partial: Boolean(index.where),
      })),
    };
  }

  /** Whether `table` exists where the backend's unqualified statements find it. */
  async hasTable(runner: QueryRunner, table: string): Promise<boolean> {
    const sql = new SqlBuilder(this);
    const rows = await runner.query(this.hasTableSql(table, sql), sql.params);
    return rows.length > 0;
  }

  /** A query returning a row when `table` exists (see `hasTable`). */
  protected abstract hasTableSql(table: string, sql: SqlBuilder): string;

  /** DROP TABLE of the tasks and workers tables (the first migration's undoing). */
  dropTablesSql(tables: TaskTables): string[] {
    return [this.dropTableSql(tables.workers), this.dropTableSql(tables.tasks)];
  }
}
