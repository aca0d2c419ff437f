import type { TaskSchema } from './dialects/ddl.js';
import type { TableShape } from './dialects/dialect.js';
import type { SqlConnection } from './sql-connection.js';
import type { ColumnSpec } from './task-columns.js';

/** What a task table lacks against the schema this version uses. */
export type SchemaLag =
  | { kind: 'missing-tables'; tables: string[] }
  | { kind: 'behind'; differences: string[] };

/**
 * Compares the task tables as the database has them with `schema` (the
 * current one): no tasks table at all, or the marks of migrations that have
 * not run — missing tables, columns and indexes, and indexes that should be
 * partial or unique and are not. Null when the tables are current.
 * Column types are not compared: no migration changes one.
 */
export async function schemaLag(
  sql: SqlConnection,
  schema: TaskSchema,
): Promise<SchemaLag | null> {
  const expected: [string, readonly ColumnSpec[] | undefined][] = [
    [sql.tables.tasks, schema.taskColumns],
    [sql.tables.workers, schema.workerColumns],
    [sql.tables.schedules, schema.scheduleColumns],
  ];
  const runner = sql.connection.createQueryRunner();
  try {
    const differences: string[] = [];
    for (const [name, columns] of expected) {
      if (!columns) continue;
      const table = await sql.dialect.tableShape(runner, name);
      if (!table) {
        // No tasks table: nothing was ever created, rather than behind.
        if (name === sql.tables.tasks)
          return { kind: 'missing-tables', tables: [name] };
        differences.push(`table '${name}' is missing`);
        continue;
      }
      const present = new Set(table.columns);
      for (const column of columns)
        if (sql.dialect.hasColumn(column) && !present.has(column.name))
          differences.push(`column '${name}.${column.name}' is missing`);
      if (name === sql.tables.tasks)
        differences.push(...indexLag(sql, table.indexes, schema));
    }
    return differences.length > 0 ? { kind: 'behind', differences } : null;
  } finally {
    await runner.release();
  }
}

function indexLag(
  sql: SqlConnection,
  indices: TableShape['indexes'],
  schema: TaskSchema,
): string[] {
  const byName = new Map(indices.map((index) => [index.name, index]));
  const differences: string[] = [];
  for (const spec of schema.indexes) {
    const name = `${sql.tables.tasks}_${spec.suffix}`;
    const index = byName.get(name);
    if (!index) differences.push(`index '${name}' is missing`);
    else if (spec.partial && sql.dialect.partialIndexes && !index.partial)
      differences.push(`index '${name}' is not partial`);
    else if (spec.unique && !index.unique)
      differences.push(`index '${name}' is not unique`);
  }
  return differences;
}
