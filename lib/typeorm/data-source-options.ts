import type { DataSource } from 'typeorm';
import { TaskMessages } from '../tasks.messages.js';

/** Where tables live: the `dataSource` and `tableName` options, checked. */
export interface DataSourceOptions {
  dataSource: string | DataSource;
  tableName: string | undefined;
}

/** At most 54 characters: the longest name made from it (`<tableName>_schedules`) then fits every database's limit. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,53}$/;

/** Whether `value` may be a `dataSource` option: a name, or a TypeORM DataSource. */
function isDataSourceOption(value: unknown): boolean {
  return (
    typeof value === 'string' ||
    (typeof value === 'object' && value !== null && 'driver' in value)
  );
}

/** Whether `value` may be a `tableName` option (undefined: the default). */
function isTableNameOption(value: unknown): boolean {
  return (
    value === undefined || (typeof value === 'string' && IDENTIFIER.test(value))
  );
}

/**
 * Checks options that name a DataSource (default `'default'`) and a table
 * (`tableName`), beside the option names of `more`: an unknown name, a
 * `dataSource` that is neither a name nor a DataSource, a `tableName` that
 * is not a plain identifier. `fail` throws the problem, worded for its
 * owner.
 */
export function resolveDataSourceOptions(
  options: Record<string, unknown>,
  more: readonly string[],
  fail: (problem: string) => never,
): DataSourceOptions {
  const known = ['dataSource', 'tableName', ...more];
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length) fail(TaskMessages.unknownOptions(unknown, known));
  const { dataSource = 'default', tableName } = options;
  if (!isDataSourceOption(dataSource))
    fail(TaskMessages.badDataSourceOption(dataSource));
  if (!isTableNameOption(tableName)) fail(TaskMessages.badTableName(tableName));
  return {
    dataSource: dataSource as string | DataSource,
    tableName: tableName as string | undefined,
  };
}
