/** The moments `@OnTaskEvent()` listeners hear about (DEP 14's signals). */
export type TaskEventName = 'enqueued' | 'started' | 'finished';

export const TASK_EVENT_NAMES: readonly TaskEventName[] = [
  'enqueued',
  'started',
  'finished',
];

/** What a listener receives. */
export interface TaskEvent<R = unknown> {
  result: import('../task/task-result.js').TaskResult<R>;
}
