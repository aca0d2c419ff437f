import type { TaskResult } from './task-result.js';

/**
 * The moments `@OnTaskEvent()` listeners hear about (DEP 14's signals), and
 * `dispatchFailed`: an enqueue held until a commit could not be stored then.
 */
export type TaskEventName =
  'enqueued' | 'started' | 'finished' | 'dispatchFailed';

export const TASK_EVENT_NAMES: readonly TaskEventName[] = [
  'enqueued',
  'started',
  'finished',
  'dispatchFailed',
];

/** What a listener receives. */
export interface TaskEvent<R = unknown> {
  result: TaskResult<R>;
  /** With `dispatchFailed`: why the held enqueue could not be stored. */
  error?: unknown;
}
