import {
  toErrorRecord,
  type TaskErrorRecord,
} from '../../task/task-error-record.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import type { InsertColumnName } from './task-columns.js';
import { InvalidTaskArgumentsError } from '../../errors/invalid-task-arguments.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { AttemptRecord } from '../worker-queue.js';
import type { TaskRow } from './sql-connection.js';
import { shownStatus, storedStatus } from './stored-status.js';

/**
 * The row codec: stored rows to result state and back. Times are epoch
 * milliseconds, JSON values text.
 */

/** Stored state read from a row, and what was wrong with the row if it could not be read whole. */
export interface DecodedRow {
  data: TaskResultData;
  /** Why the row cannot be run (corrupt JSON, unknown status), or null. */
  problem: TaskErrorRecord | null;
}

const STATUSES = new Set<string>(Object.values(TaskResultStatus));

const toNumber = (value: unknown): number =>
  typeof value === 'number' ? value : Number(value);
const toDate = (value: unknown): Date | null =>
  value === null || value === undefined ? null : new Date(toNumber(value));

/** Turns a stored row into result state; never throws, so one bad row cannot stop a worker. */
export function decodeRow(row: TaskRow): DecodedRow {
  const problems: string[] = [];
  const json = <T>(
    column: string,
    fallback: T,
    valid: (value: unknown) => boolean,
  ): T => {
    const text = row[column];
    if (text === null || text === undefined) return fallback;
    try {
      const value: unknown = JSON.parse(String(text));
      if (valid(value)) return value as T;
      problems.push(`column ${column} holds JSON of the wrong shape`);
    } catch (error) {
      problems.push(
        `column ${column} is not valid JSON (${(error as Error).message})`,
      );
    }
    return fallback;
  };
  const isObject = (value: unknown) =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const status = shownStatus(String(row.status));
  if (!STATUSES.has(status)) problems.push(`status '${status}' is unknown`);
  const data: TaskResultData = {
    id: String(row.id),
    taskName: String(row.task_name),
    backend: String(row.backend),
    queueName: String(row.queue_name),
    priority: toNumber(row.priority),
    args: json<unknown[]>('args', [], Array.isArray),
    status: (STATUSES.has(status)
      ? status
      : TaskResultStatus.FAILED) as TaskResultStatus,
    runAfter: toDate(row.run_after),
    enqueuedAt: toDate(row.enqueued_at),
    startedAt: toDate(row.started_at),
    finishedAt: toDate(row.finished_at),
    lastAttemptedAt: toDate(row.last_attempted_at),
    attempts: toNumber(row.attempts),
    maxAttempts: toNumber(row.max_attempts),
    // The stored list names the workers of finished attempts; a running one adds its worker.
    workerIds: [
      ...json<string[]>('worker_ids', [], Array.isArray),
      ...(status === TaskResultStatus.RUNNING &&
      row.worker_id !== null &&
      row.worker_id !== undefined
        ? [String(row.worker_id)]
        : []),
    ],
    errors: json<TaskErrorRecord[]>('errors', [], Array.isArray),
    returnValue: json<unknown>('return_value', null, () => true),
    progress:
      row.progress === null || row.progress === undefined
        ? null
        : toNumber(row.progress),
    metadata: json<Record<string, unknown>>('metadata', {}, isObject),
    uniqueKey:
      row.unique_key === null || row.unique_key === undefined
        ? null
        : String(row.unique_key),
  };
  const problem = problems.length
    ? toErrorRecord(
        new InvalidTaskArgumentsError(
          TaskMessages.corruptRow(data.taskName, problems),
        ),
      )
    : null;
  return { data, problem };
}

/** A new row's values, by column. */
export type NewRow = Record<InsertColumnName, unknown>;

/** The values of a new row, by column. */
export function encodeNewRow(data: TaskResultData): NewRow {
  const ms = (date: Date | null) => (date ? date.getTime() : null);
  const now = Date.now();
  const enqueuedAt = ms(data.enqueuedAt) ?? now;
  const availableAt = ms(data.runAfter) ?? enqueuedAt;
  return {
    id: data.id,
    task_name: data.taskName,
    backend: data.backend,
    queue_name: data.queueName,
    priority: data.priority,
    status: storedStatus(data.status, availableAt, now),
    args: JSON.stringify(data.args),
    run_after: ms(data.runAfter),
    available_at: availableAt,
    enqueued_at: enqueuedAt,
    started_at: ms(data.startedAt),
    finished_at: ms(data.finishedAt),
    last_attempted_at: ms(data.lastAttemptedAt),
    attempts: data.attempts,
    max_attempts: data.maxAttempts,
    worker_ids: JSON.stringify(data.workerIds),
    errors: JSON.stringify(data.errors),
    return_value: null,
    progress: data.progress,
    metadata: JSON.stringify(data.metadata),
    unique_key: data.uniqueKey,
    worker_id: null,
    lease_expires_at: null,
    cancel_requested_at: null,
  };
}

/** The final (or retry) state written for one attempt. */
export interface Completion {
  id: string;
  workerId: string;
  attempt: number;
  /** The stored status: the result's, or SCHEDULED for a retry not due yet (see `storedStatus`). */
  status: string;
  finishedAt: number | null;
  /** JSON text, or null. */
  returnValue: string | null;
  /** JSON text of the whole errors list. */
  errors: string;
  /** JSON text of the workers of every attempt so far. */
  workerIds: string;
  /** When a READY (retried) row becomes claimable again. */
  availableAt: number | null;
}

/** The columns an attempt's outcome writes. */
export function encodeCompletion({
  data,
  workerId,
  attempt,
  retryAt,
}: AttemptRecord): Completion {
  const availableAt = retryAt?.getTime() ?? null;
  return {
    id: data.id,
    workerId,
    attempt,
    status:
      availableAt === null
        ? data.status
        : storedStatus(data.status, availableAt, Date.now()),
    finishedAt: data.finishedAt?.getTime() ?? null,
    returnValue:
      data.status === TaskResultStatus.SUCCESSFUL
        ? JSON.stringify(data.returnValue ?? null)
        : null,
    errors: JSON.stringify(data.errors),
    workerIds: JSON.stringify(data.workerIds),
    availableAt,
  };
}
