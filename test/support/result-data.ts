import { randomUUID } from 'node:crypto';
import { TaskResultStatus, type TaskResultData } from '../../lib/index.js';

/** A READY result as an enqueue makes it (one attempt allowed, nothing run), with `changes`. */
export function readyResult(
  changes: Partial<TaskResultData> = {},
): TaskResultData {
  return {
    id: randomUUID(),
    taskName: 'Tests.task',
    backend: 'default',
    queueName: 'default',
    priority: 0,
    args: [],
    status: TaskResultStatus.READY,
    runAfter: null,
    enqueuedAt: new Date(),
    startedAt: null,
    finishedAt: null,
    lastAttemptedAt: null,
    attempts: 0,
    maxAttempts: 1,
    workerIds: [],
    errors: [],
    returnValue: null,
    progress: null,
    metadata: {},
    uniqueKey: null,
    ...changes,
  };
}
