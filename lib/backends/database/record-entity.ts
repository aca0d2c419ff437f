import {
  Column,
  Entity,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  type ColumnOptions,
} from 'typeorm';
import {
  VARCHAR_LENGTHS,
  type ColumnSpec,
  type ColumnType,
} from './task-columns.js';

/** `snake_case` → `camelCase`, for the entity's property names. */
export type CamelCase<Name extends string> =
  Name extends `${infer Head}_${infer Tail}`
    ? `${Head}${Capitalize<CamelCase<Tail>>}`
    : Name;

/** The values TypeORM reads for each column type (BIGINT arrives as a string). */
interface ColumnValues {
  seq: string;
  id: string;
  name: string;
  short: string;
  text: string;
  bigint: string;
  integer: number;
  double: number;
}

type ValueOf<Spec extends ColumnSpec> =
  ColumnValues[Spec['type']] | (Spec['nullable'] extends true ? null : never);

/**
 * A row of a table described by `Columns`, as an entity: one camelCase
 * property per column, but none for a column that stands in for an index.
 */
export type RecordOf<Columns extends readonly ColumnSpec[]> = {
  [
    Spec in Columns[number] as Spec extends { standsInFor: string }
      ? never
      : CamelCase<Spec['name']>
  ]: ValueOf<Spec>;
};

const camelCase = (name: string): string =>
  name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/**
 * TypeORM's spelling of each column type, valid on PostgreSQL, MySQL/MariaDB
 * and SQLite alike. TypeORM only reads and writes through it: the tables
 * themselves are created by the dialects' DDL.
 */
const TYPEORM_TYPES: Record<Exclude<ColumnType, 'seq'>, ColumnOptions> = {
  id: { type: 'varchar', length: VARCHAR_LENGTHS.id },
  name: { type: 'varchar', length: VARCHAR_LENGTHS.name },
  short: { type: 'varchar', length: VARCHAR_LENGTHS.short },
  text: { type: 'text' },
  bigint: { type: 'bigint' },
  integer: { type: 'integer' },
  double: { type: 'double precision' },
};

/**
 * An entity class named `className` for `table`, its columns declared from
 * `columns` with TypeORM's decorators (but a column that stands in for an
 * index, see `ColumnSpec.standsInFor`). It has `synchronize: false`: neither
 * `synchronize: true` nor `migration:generate` ever creates, alters or drops
 * the table (taskMigrations, or the DatabaseBackend itself, create it).
 */
export function recordEntity<const Columns extends readonly ColumnSpec[]>(
  className: string,
  table: string,
  columns: Columns,
): new () => RecordOf<Columns> {
  const target = { [className]: class {} }[className];
  for (const column of columns) {
    // Exists only in some databases, and the application has no use for it.
    if (column.standsInFor) continue;
    const property = camelCase(column.name);
    if (column.type === 'seq') {
      const options = { name: column.name, type: 'bigint' } as const;
      PrimaryGeneratedColumn('increment', options)(target.prototype, property);
      continue;
    }
    const options: ColumnOptions = {
      name: column.name,
      ...TYPEORM_TYPES[column.type],
    };
    if (column.unique) options.unique = true;
    if (column.primary) {
      PrimaryColumn({ ...options, nullable: false })(
        target.prototype,
        property,
      );
    } else {
      Column({ ...options, nullable: column.nullable ?? false })(
        target.prototype,
        property,
      );
    }
  }
  Entity({ name: table, synchronize: false })(target);
  return target as new () => RecordOf<Columns>;
}
