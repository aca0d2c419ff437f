import { TasksError } from '../../errors/tasks.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { ResultFilter } from '../results-admin.js';
import { VARCHAR_LENGTHS } from './task-columns.js';

/** The longest value each filter field's column holds. */
const MAX_LENGTHS: Record<keyof ResultFilter, number> = {
  id: VARCHAR_LENGTHS.id,
  taskName: VARCHAR_LENGTHS.name,
  status: VARCHAR_LENGTHS.short,
  queue: VARCHAR_LENGTHS.short,
};

/**
 * Refuses, with a `TasksError` naming the field, a filter value no row can
 * hold: one that is not text, holds a control character (which PostgreSQL
 * refuses in text) or is longer than its column.
 */
export function checkFilterValue(
  field: keyof ResultFilter,
  value: unknown,
): void {
  if (value === undefined) return;
  if (typeof value !== 'string')
    throw new TasksError(TaskMessages.badResultFilter(field, value, 'text'));
  if (/\p{Cc}/u.test(value))
    throw new TasksError(
      TaskMessages.badResultFilter(
        field,
        value,
        'text without control characters',
      ),
    );
  if (value.length > MAX_LENGTHS[field])
    throw new TasksError(
      TaskMessages.badResultFilter(
        field,
        value,
        `at most ${MAX_LENGTHS[field]} characters long`,
      ),
    );
}

/** Checks every field of `filter` (see `checkFilterValue`). */
export function checkResultFilter(filter: ResultFilter): void {
  for (const field of Object.keys(MAX_LENGTHS) as (keyof ResultFilter)[])
    checkFilterValue(field, filter[field]);
}
