import type { ColumnSpec, ColumnType, IndexSpec } from '../task-columns.js';
import { VARCHAR_LENGTHS } from '../task-columns.js';
import type { TaskTables } from '../task-tables.js';

/** The column types every supported database spells alike. */
export const STANDARD_TYPES = {
  id: `VARCHAR(${VARCHAR_LENGTHS.id})`,
  name: `VARCHAR(${VARCHAR_LENGTHS.name})`,
  short: `VARCHAR(${VARCHAR_LENGTHS.short})`,
  bigint: 'BIGINT',
} as const;

/** How a dialect spells tables: column types, quoting and whether indexes may be partial. */
export interface DdlStyle {
  types: Record<ColumnType, string>;
  quote(identifier: string): string;
  partialIndexes: boolean;
  tableSuffix?: string;
}

/** The tables of one version of the schema. */
export interface TaskSchema {
  taskColumns: readonly ColumnSpec[];
  workerColumns: readonly ColumnSpec[];
  /** Absent before periodic tasks came. */
  scheduleColumns?: readonly ColumnSpec[];
  /** The tasks table's indexes. */
  indexes: readonly IndexSpec[];
  /** Absent before the outbox came. */
  outboxColumns?: readonly ColumnSpec[];
  outboxIndexes?: readonly IndexSpec<string>[];
}

/** A table of the schema, by its key in `TaskTables`. */
export type TaskTableKey = keyof TaskTables;

const ALL_TABLES: readonly TaskTableKey[] = [
  'tasks',
  'workers',
  'schedules',
  'outbox',
];

/** The name of an index's column, without its direction. */
const columnName = (column: string): string => column.replace(/ DESC$/, '');

/** Whether a column exists in this style's tables: a stand-in for a partial index only where indexes cannot be partial. */
export function columnExists(style: DdlStyle, column: ColumnSpec): boolean {
  return !(column.standsInFor && style.partialIndexes);
}

/** Whether `column` stands in for `index`: a partial one, unique unless the column leads it (see `ColumnSpec.leads`). */
const standsFor = (column: ColumnSpec, index: IndexSpec<string>): boolean =>
  column.standsInFor === index.suffix &&
  Boolean(index.partial) &&
  Boolean(index.unique) !== Boolean(column.leads);

/** The partial index a column stands in for, among `indexes`. */
function standInIndex(
  column: ColumnSpec,
  indexes: readonly IndexSpec<string>[],
): IndexSpec<string> {
  const index = indexes.find((spec) => standsFor(column, spec));
  if (!index)
    throw new Error(
      `Column '${column.name}' stands in for '${column.standsInFor}', which is no partial index it can stand in for`,
    );
  return index;
}

/** The column that stands in for a partial index, among `columns`, if any. */
export function standInColumn(
  index: IndexSpec<string>,
  columns: readonly ColumnSpec[],
): ColumnSpec | undefined {
  return columns.find((column) => standsFor(column, index));
}

/** The column of `index` that a column standing in for it holds: a unique index's last, any other's `status`. */
export function heldColumn(index: IndexSpec<string>): string {
  return index.unique
    ? columnName(index.columns[index.columns.length - 1])
    : 'status';
}

/** The bytes of a character term, which compare exactly (MySQL, MariaDB: the only databases that need them). */
export const exactSql = (term: string): string => `CAST(${term} AS BINARY)`;

/** A binary column as long as the longest value of `column`'s type in utf8mb4 (four bytes a character). */
function bytesType(column: ColumnSpec): string {
  const length = VARCHAR_LENGTHS[column.type as keyof typeof VARCHAR_LENGTHS];
  return `VARBINARY(${4 * length})`;
}

function columnSql(
  style: DdlStyle,
  column: ColumnSpec,
  indexes: readonly IndexSpec<string>[],
): string {
  const type = style.types[column.type];
  if (column.standsInFor) {
    // The column it holds while the index's condition holds, else NULL.
    // Spelled alike by the databases that need it (MySQL, MariaDB);
    // VIRTUAL: only its index stores it. A unique index's key in bytes, not
    // characters: a binary string compares byte for byte, never padded,
    // where every collation of a character column (even utf8mb4_bin, which
    // pads) would make keys that differ in case, accents or trailing spaces
    // one and the same.
    const index = standInIndex(column, indexes);
    const held = style.quote(heldColumn(index));
    const [spelled, value] = index.unique
      ? [bytesType(column), exactSql(held)]
      : [type, held];
    return `${style.quote(column.name)} ${spelled} GENERATED ALWAYS AS (CASE WHEN ${index.partial} THEN ${value} END) VIRTUAL`;
  }
  const nullability =
    column.type === 'seq' ? '' : column.nullable ? ' NULL' : ' NOT NULL';
  return `${style.quote(column.name)} ${type}${nullability}`;
}

/** CREATE TABLE of one table, in one dialect's style; a column standing in for an index finds it among `indexes`. */
export function createTableSql(
  style: DdlStyle,
  table: string,
  columns: readonly ColumnSpec[],
  indexes: readonly IndexSpec<string>[] = [],
): string {
  const q = style.quote;
  const unique = columns
    .filter((column) => column.unique)
    .map(
      (column) =>
        `CONSTRAINT ${q(`${table}_${column.name}`)} UNIQUE (${q(column.name)})`,
    );
  const primary = columns.filter((column) => column.primary);
  const primaryKey = primary.length
    ? [`PRIMARY KEY (${primary.map((column) => q(column.name)).join(', ')})`]
    : [];
  const definitions = [
    ...columns
      .filter((column) => columnExists(style, column))
      .map((column) => columnSql(style, column, indexes)),
    ...unique,
    ...primaryKey,
  ];
  return `CREATE TABLE ${q(table)} (${definitions.join(', ')})${style.tableSuffix ?? ''}`;
}

/** ALTER TABLE adding a column, in one dialect's style; a column standing in for an index finds it among `indexes`. */
export function addColumnSql(
  style: DdlStyle,
  table: string,
  column: ColumnSpec,
  indexes: readonly IndexSpec[] = [],
): string {
  return `ALTER TABLE ${style.quote(table)} ADD COLUMN ${columnSql(style, column, indexes)}`;
}

/** ALTER TABLE redefining a column (a generated one's expression), in one dialect's style; a column standing in for an index finds it among `indexes`. */
export function modifyColumnSql(
  style: DdlStyle,
  table: string,
  column: ColumnSpec,
  indexes: readonly IndexSpec[] = [],
): string {
  return `ALTER TABLE ${style.quote(table)} MODIFY COLUMN ${columnSql(style, column, indexes)}`;
}

/**
 * The columns of an index as this style indexes them: a partial index
 * without partial indexes leads with the column standing in for it (among
 * `columns`, see `ColumnSpec.standsInFor`), or, without one, with `status`
 * (its condition's column); a unique one takes its stand-in in place of
 * its last column.
 */
export function indexColumns(
  style: DdlStyle,
  index: IndexSpec<string>,
  columns: readonly ColumnSpec[],
): string[] {
  const names = [...index.columns];
  if (style.partialIndexes || !index.partial) return names;
  const standIn = standInColumn(index, columns);
  if (index.unique) {
    if (!standIn)
      throw new Error(`No column stands in for the index '${index.suffix}'`);
    return [...names.slice(0, -1), standIn.name];
  }
  const lead = standIn?.name ?? 'status';
  return [lead, ...names.filter((name) => name !== 'status')];
}

/** An index's name, kind and column list as CREATE INDEX and ALTER TABLE spell them: `UNIQUE INDEX name`, `(a, b DESC)`. */
function indexParts(
  style: DdlStyle,
  table: string,
  index: IndexSpec<string>,
  columns: readonly ColumnSpec[],
): { named: string; list: string } {
  const q = style.quote;
  const list = indexColumns(style, index, columns).map((column) =>
    column.replace(/^(\w+)/, (name) => q(name)),
  );
  const unique = index.unique ? 'UNIQUE ' : '';
  return {
    named: `${unique}INDEX ${q(`${table}_${index.suffix}`)}`,
    list: `(${list.join(', ')})`,
  };
}

/** CREATE INDEX of one index of `table`, in one dialect's style; `columns` are the table's (for a stand-in). */
export function createIndexSql(
  style: DdlStyle,
  table: string,
  index: IndexSpec<string>,
  columns: readonly ColumnSpec[],
): string {
  const { named, list } = indexParts(style, table, index, columns);
  const where =
    style.partialIndexes && index.partial ? ` WHERE ${index.partial}` : '';
  return `CREATE ${named} ON ${style.quote(table)} ${list}${where}`;
}

/** What one ALTER TABLE changes (see `alterTableSql`). */
export interface TableChanges {
  addColumns?: readonly ColumnSpec[];
  /** By suffix. */
  dropIndexes?: readonly string[];
  addIndexes?: readonly IndexSpec<string>[];
  dropColumns?: readonly string[];
}

/**
 * One ALTER TABLE making `changes`: columns added first, then indexes
 * dropped and added, then columns dropped; an added column standing in for
 * an index finds it among the added indexes, and an added index the column
 * standing in for it among the added columns. In the syntax of the
 * databases that have stand-in columns (MySQL, MariaDB), whose DDL is not
 * transactional: one statement is done whole or not at all.
 */
export function alterTableSql(
  style: DdlStyle,
  table: string,
  changes: TableChanges,
): string {
  const q = style.quote;
  const added = changes.addColumns ?? [];
  const indexes = changes.addIndexes ?? [];
  const clauses = [
    ...added.map((column) => `ADD COLUMN ${columnSql(style, column, indexes)}`),
    ...(changes.dropIndexes ?? []).map(
      (suffix) => `DROP INDEX ${q(`${table}_${suffix}`)}`,
    ),
    ...indexes.map((index) => {
      const { named, list } = indexParts(style, table, index, added);
      return `ADD ${named} ${list}`;
    }),
    ...(changes.dropColumns ?? []).map((name) => `DROP COLUMN ${q(name)}`),
  ];
  return `ALTER TABLE ${q(table)} ${clauses.join(', ')}`;
}

/** CREATE TABLE and CREATE INDEX statements for the tables of `schema` (or only those in `only`), in one dialect's style. */
export function createTablesSql(
  style: DdlStyle,
  tables: TaskTables,
  schema: TaskSchema,
  only: readonly TaskTableKey[] = ALL_TABLES,
): string[] {
  const create = (key: TaskTableKey, columns?: readonly ColumnSpec[]) =>
    columns && only.includes(key)
      ? [createTableSql(style, tables[key], columns, schema.indexes)]
      : [];
  const index = (
    key: TaskTableKey,
    indexes: readonly IndexSpec<string>[] = [],
    columns: readonly ColumnSpec[] = [],
  ) =>
    only.includes(key)
      ? indexes.map((spec) => createIndexSql(style, tables[key], spec, columns))
      : [];
  return [
    ...create('tasks', schema.taskColumns),
    ...create('workers', schema.workerColumns),
    ...index('tasks', schema.indexes, schema.taskColumns),
    ...create('schedules', schema.scheduleColumns),
    ...create('outbox', schema.outboxColumns),
    ...index('outbox', schema.outboxIndexes, schema.outboxColumns),
  ];
}
