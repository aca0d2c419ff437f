import type { DataSource } from 'typeorm';
import type { TestDatabaseName } from './databases.js';

type Rows = Record<string, unknown>[];

/**
 * What the database itself says about some tables: every column (name,
 * type, nullability, default, identity), every constraint and every index
 * (columns in order with their direction, uniqueness, partial WHERE), as
 * plain rows that two schemas can be compared by. Table names are kept, so
 * compare schemas created under the same names (in separate namespaces).
 */
export async function describeTables(
  db: TestDatabaseName,
  ds: DataSource,
  tables: readonly string[],
): Promise<Record<string, Rows>> {
  switch (db) {
    case 'postgres':
      return describePostgres(ds, tables);
    case 'mariadb':
      return describeMariadb(ds, tables);
    case 'sqlite':
      return describeSqlite(ds, tables);
  }
}

async function describePostgres(
  ds: DataSource,
  tables: readonly string[],
): Promise<Record<string, Rows>> {
  const [{ schema }] = await ds.query('SELECT current_schema() AS schema');
  const names = [...tables];
  return {
    columns: await ds.query(
      `SELECT table_name, ordinal_position, column_name, data_type, character_maximum_length,
              numeric_precision, is_nullable, column_default, is_identity, identity_generation
         FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = ANY($1)
        ORDER BY table_name, ordinal_position`,
      [names],
    ),
    constraints: await ds.query(
      `SELECT t.relname AS table_name, c.conname, c.contype, pg_get_constraintdef(c.oid) AS definition
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname = ANY($1)
        ORDER BY t.relname, c.conname`,
      [names],
    ),
    // indexdef spells the whole index: unique, columns, DESC, partial WHERE.
    indexes: (
      (await ds.query(
        `SELECT tablename, indexname, indexdef FROM pg_indexes
          WHERE schemaname = current_schema() AND tablename = ANY($1)
          ORDER BY tablename, indexname`,
        [names],
      )) as { indexdef: string }[]
    ).map((index) => ({
      ...index,
      indexdef: index.indexdef.replaceAll(` ${schema}.`, ' '),
    })),
  };
}

async function describeMariadb(
  ds: DataSource,
  tables: readonly string[],
): Promise<Record<string, Rows>> {
  const names = [...tables];
  const marks = names.map(() => '?').join(', ');
  const where = `TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${marks})`;
  return {
    tables: await ds.query(
      `SELECT TABLE_NAME AS table_name, ENGINE AS engine, TABLE_COLLATION AS collation
         FROM information_schema.TABLES WHERE ${where} ORDER BY TABLE_NAME`,
      names,
    ),
    columns: await ds.query(
      `SELECT TABLE_NAME AS table_name, ORDINAL_POSITION AS position, COLUMN_NAME AS column_name,
              COLUMN_TYPE AS column_type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS column_default,
              EXTRA AS extra, CHARACTER_SET_NAME AS charset, COLLATION_NAME AS collation
         FROM information_schema.COLUMNS WHERE ${where}
        ORDER BY TABLE_NAME, ORDINAL_POSITION`,
      names,
    ),
    constraints: await ds.query(
      `SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, CONSTRAINT_TYPE AS constraint_type
         FROM information_schema.TABLE_CONSTRAINTS WHERE ${where}
        ORDER BY TABLE_NAME, CONSTRAINT_NAME`,
      names,
    ),
    // COLLATION is 'A' (ascending) or 'D' (descending) per indexed column.
    indexes: await ds.query(
      `SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, SEQ_IN_INDEX AS position,
              COLUMN_NAME AS column_name, COLLATION AS direction, NON_UNIQUE AS non_unique,
              SUB_PART AS sub_part, INDEX_TYPE AS index_type
         FROM information_schema.STATISTICS WHERE ${where}
        ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      names,
    ),
  };
}

async function describeSqlite(
  ds: DataSource,
  tables: readonly string[],
): Promise<Record<string, Rows>> {
  const spaces = (sql: unknown) =>
    typeof sql === 'string' ? sql.replace(/\s+/g, ' ').trim() : sql;
  const result: Record<string, Rows> = {};
  for (const table of tables) {
    const [master] = await ds.query(
      `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`,
      [table],
    );
    result[`${table}: table`] = [{ sql: spaces(master?.sql) }];
    result[`${table}: columns`] = await ds.query(
      `SELECT * FROM pragma_table_info(?) ORDER BY cid`,
      [table],
    );
    const indexes: { name: string }[] = await ds.query(
      `SELECT * FROM pragma_index_list(?) ORDER BY name`,
      [table],
    );
    result[`${table}: indexes`] = indexes;
    for (const index of indexes) {
      const [definition] = await ds.query(
        `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`,
        [index.name],
      );
      // desc per column; the WHERE of a partial index is only in its sql.
      result[`${table}: index ${index.name}`] = [
        { sql: spaces(definition?.sql) },
        ...(await ds.query(
          `SELECT * FROM pragma_index_xinfo(?) ORDER BY seqno`,
          [index.name],
        )),
      ];
    }
  }
  return result;
}
