import type { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';

/** `options` of a DatabaseBackend entry. */
export interface DatabaseBackendOptions {
  /** A TypeORM DataSource, or the name it was registered under with `@nestjs/typeorm`. Default `'default'`. */
  dataSource?: string | DataSource;
  /** The tasks table; the workers and schedules tables are named after it. Default `nestjs_tasks`. */
  tableName?: string;
  /** How long a running task may go without its worker's heartbeat before another worker rescues it. Default 30000. */
  leaseMs?: number;
}

export interface ResolvedDatabaseOptions {
  dataSource: string | DataSource;
  tableName: string | undefined;
  leaseMs: number;
}

/** At most 54 characters: the longest name made from it (`<tableName>_schedules`) then fits every database's limit. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,53}$/;

/** Whether `value` may be a `dataSource` option: a name, or a TypeORM DataSource. */
export function isDataSourceOption(value: unknown): boolean {
  return (
    typeof value === 'string' ||
    (typeof value === 'object' && value !== null && 'driver' in value)
  );
}

/** Whether `value` may be a `tableName` option (undefined: the default). */
export function isTableNameOption(value: unknown): boolean {
  return (
    value === undefined || (typeof value === 'string' && IDENTIFIER.test(value))
  );
}
export const DEFAULT_LEASE_MS = 30_000;
const MIN_LEASE_MS = 500;

/** Checks a DatabaseBackend's options, naming the alias and the fix on any mistake. */
export function resolveDatabaseOptions(
  alias: string,
  options: Record<string, unknown>,
): ResolvedDatabaseOptions {
  const fail = (message: string): never => {
    throw new InvalidTaskBackendError(
      TaskMessages.badDatabaseOption(alias, message),
    );
  };
  const known = ['dataSource', 'tableName', 'leaseMs'];
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length) fail(TaskMessages.unknownOptions(unknown, known));
  const {
    dataSource = 'default',
    tableName,
    leaseMs = DEFAULT_LEASE_MS,
  } = options;
  if (!isDataSourceOption(dataSource))
    fail(TaskMessages.badDataSourceOption(dataSource));
  if (!isTableNameOption(tableName)) fail(TaskMessages.badTableName(tableName));
  if (
    typeof leaseMs !== 'number' ||
    !Number.isInteger(leaseMs) ||
    leaseMs < MIN_LEASE_MS
  ) {
    fail(TaskMessages.badLeaseMs(leaseMs, MIN_LEASE_MS));
  }
  return {
    dataSource: dataSource as string | DataSource,
    tableName: tableName as string | undefined,
    leaseMs: leaseMs as number,
  };
}
