import type { TaskDefinition } from './task-definition.js';
import type { TaskErrorRecord } from './task-error-record.js';
import { TaskResultStatus } from './task-result-status.js';
import { newTaskId } from './task-id.js';

/** The stored state of one result: what every backend keeps, in memory or in a row. */
export interface TaskResultData {
  id: string;
  taskName: string;
  backend: string;
  queueName: string;
  priority: number;
  args: unknown[];
  status: TaskResultStatus;
  runAfter: Date | null;
  enqueuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  lastAttemptedAt: Date | null;
  attempts: number;
  maxAttempts: number;
  workerIds: string[];
  errors: TaskErrorRecord[];
  returnValue: unknown;
  progress: number | null;
  metadata: Record<string, unknown>;
  uniqueKey: string | null;
}

/** A new READY result of `task` with these arguments (and unique key, if the task is unique). */
export function newResultData(
  task: TaskDefinition<any, any>,
  args: unknown[],
  uniqueKey: string | null,
  now = new Date(),
): TaskResultData {
  return {
    id: newTaskId(now.getTime()),
    taskName: task.name,
    backend: task.backend,
    queueName: task.queueName,
    priority: task.priority,
    args,
    status: TaskResultStatus.READY,
    runAfter: task.runAfter,
    enqueuedAt: now,
    startedAt: null,
    finishedAt: null,
    lastAttemptedAt: null,
    attempts: 0,
    maxAttempts: task.maxAttempts,
    workerIds: [],
    errors: [],
    returnValue: null,
    progress: null,
    metadata: { ...task.metadata },
    uniqueKey,
  };
}
