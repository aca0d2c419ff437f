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

function columnSql(style: DdlStyle, column: ColumnSpec): string {
  const type = style.types[column.type];
  const nullability =
    column.type === 'seq' ? '' : column.nullable ? ' NULL' : ' NOT NULL';
  return `${style.quote(column.name)} ${type}${nullability}`;
}

/** CREATE TABLE of one table, in one dialect's style. */
export function createTableSql(
  style: DdlStyle,
  table: string,
  columns: readonly ColumnSpec[],
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
    ...columns.map((column) => columnSql(style, column)),
    ...unique,
    ...primaryKey,
  ];
  return `CREATE TABLE ${q(table)} (${definitions.join(', ')})${style.tableSuffix ?? ''}`;
}

/** ALTER TABLE adding a column, in one dialect's style. */
export function addColumnSql(
  style: DdlStyle,
  table: string,
  column: ColumnSpec,
): string {
  return `ALTER TABLE ${style.quote(table)} ADD COLUMN ${columnSql(style, column)}`;
}

/** The tables of one version of the schema. */
export interface TaskSchema {
  taskColumns: readonly ColumnSpec[];
  workerColumns: readonly ColumnSpec[];
  /** Absent before periodic tasks came. */
  scheduleColumns?: readonly ColumnSpec[];
  indexes: readonly IndexSpec[];
}

/** A table of the schema, by its key in `TaskTables`. */
export type TaskTableKey = keyof TaskTables;

const ALL_TABLES: readonly TaskTableKey[] = ['tasks', 'workers', 'schedules'];

/** CREATE INDEX of one index of the tasks table, in one dialect's style. */
export function createIndexSql(
  style: DdlStyle,
  tables: TaskTables,
  index: IndexSpec,
): string {
  const q = style.quote;
  const columns = index.columns.map((column) =>
    column.replace(/^(\w+)/, (name) => q(name)),
  );
  const statusFirst =
    !style.partialIndexes && index.partial && !index.columns.includes('status');
  const list = statusFirst ? [q('status'), ...columns] : columns;
  const where =
    style.partialIndexes && index.partial ? ` WHERE ${index.partial}` : '';
  return `CREATE INDEX ${q(`${tables.tasks}_${index.suffix}`)} ON ${q(tables.tasks)} (${list.join(', ')})${where}`;
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
      ? [createTableSql(style, tables[key], columns)]
      : [];
  return [
    ...create('tasks', schema.taskColumns),
    ...create('workers', schema.workerColumns),
    ...(only.includes('tasks')
      ? schema.indexes.map((index) => createIndexSql(style, tables, index))
      : []),
    ...create('schedules', schema.scheduleColumns),
  ];
}
