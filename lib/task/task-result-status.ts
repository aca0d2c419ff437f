/** The lifecycle of a task result. Values equal their names. */
export enum TaskResultStatus {
  READY = 'READY',
  RUNNING = 'RUNNING',
  SUCCESSFUL = 'SUCCESSFUL',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

const FINISHED = new Set<TaskResultStatus>([
  TaskResultStatus.SUCCESSFUL,
  TaskResultStatus.FAILED,
  TaskResultStatus.CANCELLED,
]);

export function isFinishedStatus(status: TaskResultStatus): boolean {
  return FINISHED.has(status);
}
