import type { DataSource, QueryRunner } from 'typeorm';
import { TaskMessages } from '../../../tasks.messages.js';
import { SqlBuilder } from '../sql-builder.js';
import type { TaskTables } from '../task-tables.js';
import type { ColumnSpec, IndexSpec } from '../task-columns.js';
import { STANDARD_TYPES, exactSql, type DdlStyle } from './ddl.js';
import {
  Dialect,
  jsonRows,
  type SessionLockSql,
  type TableShape,
  type TakeParts,
} from './dialect.js';

/** The name of a worker's lock: server-wide, so the database and table are part of it. */
const lockName = (namespace: string, workerId: string) =>
  `CONCAT('nestjs-tasks:', MD5(CONCAT(DATABASE(), ':', ${namespace}, ':', ${workerId})))`;

/** How many characters of `value` the driver escapes (each then takes two bytes). */
function escapedCharacters(value: string): number {
  let count = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 34 || code === 39 || code === 92 || code < 32) count++;
  }
  return count;
}

const STYLE: DdlStyle = {
  types: {
    ...STANDARD_TYPES,
    seq: 'BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY',
    text: 'LONGTEXT',
    integer: 'INT',
    double: 'DOUBLE',
  },
  quote: (identifier) => `\`${identifier}\``,
  partialIndexes: false,
  tableSuffix: ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4',
};

/** MySQL 8 / MariaDB 10.6+: a take (a claim, a promotion) is SELECT … FOR UPDATE SKIP LOCKED, then UPDATE by seq, in one short transaction. */
export class MysqlDialect extends Dialect {
  protected readonly ddl = STYLE;
  protected override readonly transientErrors = [1213, 1205];
  /** Data too long, incorrect value, out of range, packet larger than max_allowed_packet. */
  protected override readonly refusalErrors = [
    1406,
    1366,
    1264,
    1153,
    1301,
    'ER_NET_PACKET_TOO_LARGE',
  ];

  /** No such table, unknown column. */
  protected override readonly missingTableErrors = [1146, 1054];

  protected hasTableSql(table: string, sql: SqlBuilder): string {
    return `SELECT 1 AS present FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${sql.p(table)}`;
  }

  /**
   * From information_schema: TypeORM's `getTable` reads the expression of a
   * generated column from a metadata table of its own, which has no entry
   * for (and usually no table beside) the task tables.
   */
  override async tableShape(
    runner: QueryRunner,
    table: string,
  ): Promise<TableShape | null> {
    const where = (sql: SqlBuilder) =>
      `TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${sql.p(table)}`;
    const columnsSql = new SqlBuilder(this);
    const columns: { name: string }[] = await runner.query(
      `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE ${where(columnsSql)}`,
      columnsSql.params,
    );
    if (columns.length === 0) return null;
    const indexesSql = new SqlBuilder(this);
    const indexes: { name: string; non_unique: number | string }[] =
      await runner.query(
        `SELECT DISTINCT INDEX_NAME AS name, NON_UNIQUE AS non_unique FROM information_schema.STATISTICS WHERE ${where(indexesSql)}`,
        indexesSql.params,
      );
    return {
      columns: columns.map((column) => String(column.name)),
      indexes: indexes.map((index) => ({
        name: String(index.name),
        unique: Number(index.non_unique) === 0,
        partial: false,
      })),
    };
  }

  override readonly claimedEntriesLinger = true;

  override readonly returningUpdates = false;

  /** MariaDB has INSERT … RETURNING (10.5+), MySQL 8 has not. */
  override readonly returningInserts = false;

  /** The bytes of the term: every collation of a character column folds case, accents or trailing spaces. */
  override exact(term: string): string {
    return exactSql(term);
  }

  /**
   * MySQL/MariaDB cannot name the index a conflict is on: a row that
   * duplicates any unique key is left as it is. The id (a UUID) and
   * the auto-incremented seq never collide, so only `index` can. Unlike
   * INSERT IGNORE, which would also swallow values too long or out of range,
   * every other error still fails the statement.
   */
  override skipConflictsSql(tables: TaskTables, _index: IndexSpec): string {
    const table = this.quote(tables.tasks);
    return `ON DUPLICATE KEY UPDATE ${table}.seq = ${table}.seq`;
  }

  /** InnoDB's REPEATABLE READ reads a transaction's first snapshot; a locking read reads the latest rows. */
  override readonly latestRowsSql = ' LOCK IN SHARE MODE';

  /** A duplicate key leaves the row as it is (INSERT IGNORE would also hide other errors). */
  override insertIfAbsentSql(
    table: string,
    columns: readonly string[],
    values: readonly string[],
  ): string {
    const [key] = columns;
    return `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${values.join(', ')}) ON DUPLICATE KEY UPDATE ${key} = ${key}`;
  }

  protected override dropIndexSql(tables: TaskTables, suffix: string): string {
    return `DROP INDEX ${this.quote(`${tables.tasks}_${suffix}`)} ON ${this.quote(tables.tasks)}`;
  }

  protected override manyRows(
    rows: readonly Record<string, unknown>[],
    columns: readonly ColumnSpec[],
    alias: string,
    sql: SqlBuilder,
  ): string {
    const types = columns.map(
      (column, i) => `${column.name} ${this.columnType(column)} PATH '$[${i}]'`,
    );
    return `JSON_TABLE(${sql.p(jsonRows(rows, columns))}, '$[*]' COLUMNS (${types.join(', ')})) AS ${alias}`;
  }

  /** The row of an auto-increment key is read as a plain BIGINT. */
  protected override columnType(column: ColumnSpec): string {
    return column.type === 'seq' ? 'BIGINT' : super.columnType(column);
  }

  /**
   * The recordset drives the join and each row is reached by its id's
   * unique index, whatever the statistics say: a locking statement that
   * scanned the table instead would lock rows that claims then skip.
   */
  private joinById(tables: TaskTables, from: string): string {
    const table = this.quote(tables.tasks);
    const index = this.quote(`${tables.tasks}_id`);
    return `${from} STRAIGHT_JOIN ${table} FORCE INDEX (${index}) ON ${table}.id = o.o_id`;
  }

  /**
   * A locking read (a claim, a promotion, a unique-key lookup) that scanned
   * the table or another index would lock (and wait for) rows of others,
   * and deadlock with them; a claim that sorted the due rows would cost
   * what the backlog holds. The optimizer could take another index that
   * serves a read's conditions as a range then sorted.
   */
  override throughIndex(tables: TaskTables, index: IndexSpec): string {
    return ` FORCE INDEX (${this.quote(`${tables.tasks}_${index.suffix}`)})`;
  }

  /** The optimizer's row estimate: InnoDB's dives into the index of a range. */
  override async estimateRows(
    runner: QueryRunner,
    select: string,
    params: unknown[],
  ): Promise<number | null> {
    const [row] = await runner.query(`EXPLAIN ${select}`, params);
    return row ? Number(row.rows) : null;
  }

  override updateById(
    tables: TaskTables,
    from: string,
    set: string,
    where: string,
  ): string {
    return `UPDATE ${this.joinById(tables, from)} SET ${set} WHERE ${where}`;
  }

  override lockById(
    tables: TaskTables,
    from: string,
    columns: readonly string[],
    where: string,
  ): string {
    const table = this.quote(tables.tasks);
    return `SELECT ${this.columnsOf(table, columns)} FROM ${this.joinById(tables, from)} WHERE ${where} FOR UPDATE`;
  }

  /** The server's `max_allowed_packet`, read when the connection is prepared. */
  private maxPacket: number | null = null;

  override async prepare(dataSource: DataSource): Promise<void> {
    const [row] = await dataSource.query(
      'SELECT @@max_allowed_packet AS max_packet',
    );
    this.maxPacket = Number(row?.max_packet) || null;
  }

  /**
   * In a JSON document, then escaped again by the driver: every quote,
   * backslash and control character grows twice.
   */
  protected override encodedLength(value: string): number {
    return Buffer.byteLength(value) + 3 * escapedCharacters(value);
  }

  /** Most of `max_allowed_packet`, leaving room for the statement's text. */
  protected override statementBytes(): number {
    return this.maxPacket === null
      ? super.statementBytes()
      : Math.floor(this.maxPacket * 0.8);
  }

  /** Refuses a statement that, escaped by the driver, would exceed the packet limit. */
  override assertFits(text: string, params: readonly unknown[]): void {
    if (this.maxPacket === null) return;
    let bytes = Buffer.byteLength(text);
    for (const param of params)
      if (typeof param === 'string')
        bytes += Buffer.byteLength(param) + escapedCharacters(param);
    if (bytes > this.maxPacket)
      throw Object.assign(
        new Error(TaskMessages.packetTooLarge(bytes, this.maxPacket)),
        { code: 'ER_NET_PACKET_TOO_LARGE' },
      );
  }

  /** SYSDATE, unlike NOW, is read when the statement executes, after any wait. */
  override readonly clockMs =
    'CAST(UNIX_TIMESTAMP(SYSDATE(3)) * 1000 AS SIGNED)';

  /** A named lock per worker (GET_LOCK), its name hashed to fit the 64 characters MySQL allows. */
  override readonly sessionLock: SessionLockSql = {
    prepare: () => [],
    acquire: (namespace, workerId, sql) =>
      `SELECT GET_LOCK(${lockName(sql.p(namespace), sql.p(workerId))}, 0) AS held`,
    releaseAll: 'SELECT RELEASE_ALL_LOCKS()',
    gone: (namespace, column, sql) =>
      `IS_USED_LOCK(${lockName(sql.p(namespace), column)}) IS NULL`,
  };

  override async take(
    runner: QueryRunner,
    tableName: string,
    parts: TakeParts,
  ): Promise<Record<string, unknown>[]> {
    const table = this.quote(tableName);
    // READ COMMITTED: locking reads then lock only the rows they return, not every index entry scanned.
    await runner.startTransaction('READ COMMITTED');
    try {
      const select = new SqlBuilder(this);
      const locked = (
        await runner.query(
          `${parts.select(select)} FOR UPDATE SKIP LOCKED`,
          select.params,
          true,
        )
      ).records;
      if (locked.length === 0) {
        await runner.commitTransaction();
        return [];
      }
      const seqs = locked.map((row: { seq: unknown }) => row.seq);
      const update = new SqlBuilder(this);
      await runner.query(
        `UPDATE ${table} SET ${parts.set(update)} WHERE seq IN (${update.list(seqs)})`,
        update.params,
        true,
      );
      const read = new SqlBuilder(this);
      const rows = (
        await runner.query(
          `SELECT ${parts.returning} FROM ${table} WHERE seq IN (${read.list(seqs)})`,
          read.params,
          true,
        )
      ).records;
      await runner.commitTransaction();
      return rows;
    } catch (error) {
      // A connection the server dropped (e.g. a packet too large) cannot roll back: the failure that matters is the first.
      await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    }
  }
}
