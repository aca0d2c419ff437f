import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../tasks.messages.js';
import {
  resolveDataSourceOptions,
  type DataSourceOptions,
} from '../typeorm/data-source-options.js';

/** A backend alias's `outbox` (`TaskOutboxOptions`), checked, with its defaults. */
export type ResolvedOutboxOptions = DataSourceOptions;

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
  return resolveDataSourceOptions(outbox as Record<string, unknown>, [], fail);
}
