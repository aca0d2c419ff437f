import type { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import {
  resolveDataSourceOptions,
  type DataSourceOptions,
} from '../../typeorm/data-source-options.js';

/** `options` of a DatabaseBackend entry. */
export interface DatabaseBackendOptions {
  /** A TypeORM DataSource, or the name it was registered under with `@nestjs/typeorm`. Default `'default'`. */
  dataSource?: string | DataSource;
  /** The tasks table; the workers and schedules tables are named after it. Default `nestjs_tasks`. */
  tableName?: string;
  /** How long a running task may go without its worker's heartbeat before another worker rescues it. Default 30000. */
  leaseMs?: number;
}

export interface ResolvedDatabaseOptions extends DataSourceOptions {
  leaseMs: number;
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
  const { dataSource, tableName } = resolveDataSourceOptions(
    options,
    ['leaseMs'],
    fail,
  );
  const { leaseMs = DEFAULT_LEASE_MS } = options;
  if (
    typeof leaseMs !== 'number' ||
    !Number.isInteger(leaseMs) ||
    leaseMs < MIN_LEASE_MS
  ) {
    fail(TaskMessages.badLeaseMs(leaseMs, MIN_LEASE_MS));
  }
  return { dataSource, tableName, leaseMs: leaseMs as number };
}
