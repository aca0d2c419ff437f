import { TasksError } from '../errors/tasks.error.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { TaskMessages } from '../tasks.messages.js';
import type { ResultFilter } from './results-admin.js';

const STATUSES = new Set<string>(Object.values(TaskResultStatus));

/** How a backend checks the filters of its results administration. */
export interface ResultFilterCheck {
  /** Refuses a value of `field` no result can hold (see `resultFilterCheck`). */
  checkValue(field: keyof ResultFilter, value: unknown): void;
  /** Checks every field of `filter`. */
  checkFilter(filter: ResultFilter): void;
}

/**
 * The checks of a backend whose results hold each filter field in at most
 * `maxLengths` characters: they refuse, with a `TasksError` naming the
 * field, a value no result can hold (one that is not text, holds a control
 * character, is longer than the backend keeps or is no status), before it
 * reaches the store.
 */
export function resultFilterCheck(
  maxLengths: Readonly<Record<keyof ResultFilter, number>>,
): ResultFilterCheck {
  const checkValue = (field: keyof ResultFilter, value: unknown): void => {
    if (value === undefined) return;
    const refuse = (expected: string): never => {
      throw new TasksError(
        TaskMessages.badResultFilter(field, value, expected),
      );
    };
    if (typeof value !== 'string') return refuse('text');
    if (/\p{Cc}/u.test(value)) refuse('text without control characters');
    if (value.length > maxLengths[field])
      refuse(`at most ${maxLengths[field]} characters long`);
    if (field === 'status' && !STATUSES.has(value))
      refuse(`one of ${[...STATUSES].join(', ')}`);
  };
  return {
    checkValue,
    checkFilter: (filter) => {
      for (const field of Object.keys(maxLengths) as (keyof ResultFilter)[])
        checkValue(field, filter[field]);
    },
  };
}
