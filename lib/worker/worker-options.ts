/** How a worker runs. Times are in milliseconds. */
export interface WorkerOptions {
  /** Queue names to take from; null for every queue the backend accepts. */
  queues: readonly string[] | null;
  /** Tasks run at once. */
  concurrency: number;
  /** Polling interval when no wake-up arrives. */
  intervalMs: number;
  /** Exit once the queues are empty. */
  batch: boolean;
  /** Exit after this many tasks; null for no limit. */
  maxTasks: number | null;
  workerId: string;
  /** How long a graceful stop waits for running tasks before aborting them. */
  shutdownTimeoutMs: number;
}

export const DEFAULT_WORKER_OPTIONS = {
  concurrency: 10,
  intervalMs: 1000,
  shutdownTimeoutMs: 30_000,
};

/** The delay before retry number `attempt + 1` when a task sets no `retryDelay`: exponential, capped at an hour. */
export function defaultRetryDelay(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 3_600_000);
}
