import type { ColumnSpec, ColumnType } from '../task-columns.js';
import { TASK_COLUMNS, TASK_INDEXES, WORKER_COLUMNS } from '../task-columns.js';
import type { TaskTables } from '../task-tables.js';

/** The column types every supported database spells alike. */
export const STANDARD_TYPES = {
  id: 'VARCHAR(36)',
  name: 'VARCHAR(255)',
  short: 'VARCHAR(100)',
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

/** CREATE TABLE and CREATE INDEX statements for both tables, in one dialect's style. */
export function createTablesSql(style: DdlStyle, tables: TaskTables): string[] {
  const q = style.quote;
  const suffix = style.tableSuffix ?? '';
  const tasks = `CREATE TABLE ${q(tables.tasks)} (${TASK_COLUMNS.map((c) => columnSql(style, c)).join(', ')}, CONSTRAINT ${q(`${tables.tasks}_id`)} UNIQUE (${q('id')}))${suffix}`;
  const workers = `CREATE TABLE ${q(tables.workers)} (${WORKER_COLUMNS.map((c) => columnSql(style, c)).join(', ')}, PRIMARY KEY (${q('id')}))${suffix}`;
  const indexes = TASK_INDEXES.map((index) => {
    const columns = index.columns.map((column) =>
      column.replace(/^(\w+)/, (name) => q(name)),
    );
    const statusFirst =
      !style.partialIndexes &&
      index.partial &&
      !index.columns.includes('status');
    const list = statusFirst ? [q('status'), ...columns] : columns;
    const where =
      style.partialIndexes && index.partial ? ` WHERE ${index.partial}` : '';
    return `CREATE INDEX ${q(`${tables.tasks}_${index.suffix}`)} ON ${q(tables.tasks)} (${list.join(', ')})${where}`;
  });
  return [tasks, workers, ...indexes];
}
