import type { TaskSchema, TaskTableKey } from './dialects/ddl.js';
import type { TableShape } from './dialects/dialect.js';
import type { SqlConnection } from './sql-connection.js';
import type { ColumnSpec, IndexSpec } from './task-columns.js';

/** What a task table lacks against the schema this version uses. */
export type SchemaLag =
  | { kind: 'missing-tables'; tables: string[] }
  | { kind: 'behind'; differences: string[] };

/** The columns and indexes `schema` gives each table. */
function expectedTables(
  schema: TaskSchema,
): Record<
  TaskTableKey,
  [readonly ColumnSpec[] | undefined, readonly IndexSpec<string>[]]
> {
  return {
    tasks: [schema.taskColumns, schema.indexes],
    workers: [schema.workerColumns, []],
    schedules: [schema.scheduleColumns, []],
    outbox: [schema.outboxColumns, schema.outboxIndexes ?? []],
  };
}

/**
 * Compares the task tables of `keys` as the database has them with
 * `schema` (the current one): the first of them absent (for the backend's:
 * no tasks table, nothing was ever created), or the marks of
 * migrations that have not run — missing tables, columns and indexes, and
 * indexes that should be partial or unique and are not. Null when the
 * tables are current. Column types are not compared: no migration changes
 * one.
 */
export async function schemaLag(
  sql: SqlConnection,
  schema: TaskSchema,
  keys: readonly TaskTableKey[],
): Promise<SchemaLag | null> {
  const expected = expectedTables(schema);
  const runner = sql.connection.createQueryRunner();
  try {
    const differences: string[] = [];
    for (const key of keys) {
      const [columns, indexes] = expected[key];
      if (!columns) continue;
      const name = sql.tables[key];
      const table = await sql.dialect.tableShape(runner, name);
      if (!table) {
        // The first table absent: nothing was ever created, rather than behind.
        if (key === keys[0]) return { kind: 'missing-tables', tables: [name] };
        differences.push(`table '${name}' is missing`);
        continue;
      }
      const present = new Set(table.columns);
      for (const column of columns)
        if (sql.dialect.hasColumn(column) && !present.has(column.name))
          differences.push(`column '${name}.${column.name}' is missing`);
      differences.push(...indexLag(sql, name, table.indexes, indexes));
    }
    return differences.length > 0 ? { kind: 'behind', differences } : null;
  } finally {
    await runner.release();
  }
}

function indexLag(
  sql: SqlConnection,
  table: string,
  indices: TableShape['indexes'],
  expected: readonly IndexSpec<string>[],
): string[] {
  const byName = new Map(indices.map((index) => [index.name, index]));
  const differences: string[] = [];
  for (const spec of expected) {
    const name = `${table}_${spec.suffix}`;
    const index = byName.get(name);
    if (!index) differences.push(`index '${name}' is missing`);
    else if (spec.partial && sql.dialect.partialIndexes && !index.partial)
      differences.push(`index '${name}' is not partial`);
    else if (spec.unique && !index.unique)
      differences.push(`index '${name}' is not unique`);
  }
  return differences;
}
