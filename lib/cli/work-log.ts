import { TaskResultStatus } from '../task/task-result-status.js';
import type { TaskResult } from '../task/task-result.js';
import type { QueueActivity } from './work-activity.js';

/** How `tasks:work --log-format` writes its lines. */
export type WorkLogFormat = 'json' | 'text';

export const WORK_LOG_FORMATS: readonly WorkLogFormat[] = ['json', 'text'];

/** The fields of a line about one task. */
export function taskFields(
  event: 'started' | 'finished',
  result: TaskResult<unknown>,
): Record<string, string | number | null> {
  const fields: Record<string, string | number | null> = {
    event,
    task: result.task.name,
    id: result.id,
    queue: result.task.queueName,
    status: result.status,
    attempt: result.attempts,
  };
  if (event === 'finished' && result.finishedAt && result.lastAttemptedAt)
    fields.durationMs =
      result.finishedAt.getTime() - result.lastAttemptedAt.getTime();
  if (
    event === 'finished' &&
    result.errors.length > 0 &&
    result.status !== TaskResultStatus.SUCCESSFUL
  )
    fields.error = result.errors[result.errors.length - 1].message;
  return fields;
}

/** The fields of the line a worker writes when it stops. */
export function stoppedFields(
  queues: readonly QueueActivity[],
): Record<string, string | number | null> {
  const fields: Record<string, string | number | null> = { event: 'stopped' };
  for (const q of queues) {
    fields[`${q.queue}.processed`] = q.processed;
    fields[`${q.queue}.failed`] = q.failed;
  }
  return fields;
}

/**
 * One log line: a JSON object, or `time=… key=value …` text whose values
 * are quoted (as JSON strings) where they hold spaces, quotes or `=`.
 */
export function logLine(
  format: WorkLogFormat,
  fields: Record<string, string | number | null>,
  now = new Date(),
): string {
  const all = { time: now.toISOString(), ...fields };
  if (format === 'json') return `${JSON.stringify(all)}\n`;
  const text = Object.entries(all).map(([key, value]) => {
    const plain = String(value);
    return `${key}=${/^[^\s"=]+$/.test(plain) ? plain : JSON.stringify(plain)}`;
  });
  return `${text.join(' ')}\n`;
}
