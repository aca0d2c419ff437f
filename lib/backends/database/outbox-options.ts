import type { DataSource } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import {
  isDataSourceOption,
  isTableNameOption,
} from './database-backend.options.js';

/** A backend alias's `outbox`, checked, with its defaults. */
export interface ResolvedOutboxOptions {
  dataSource: string | DataSource;
  tableName: string | undefined;
}

/** Checks the `outbox` of a backend alias, naming the alias and the fix on any mistake. */
export function resolveOutboxOptions(
  alias: string,
  outbox: unknown,
): ResolvedOutboxOptions {
  const fail = (problem: string): never => {
    throw new InvalidTaskBackendError(
      TaskMessages.badOutboxOption(alias, problem),
    );
  };
  if (typeof outbox !== 'object' || outbox === null || Array.isArray(outbox))
    fail(TaskMessages.outboxNotAnObject(outbox));
  const options = outbox as Record<string, unknown>;
  const known = ['dataSource', 'tableName'];
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
