import type { TaskResultStatus } from '../task/task-result-status.js';
import type { ResultsAdmin } from './results-admin.js';

/** What `tasks:prune` asks of a backend. */
export interface PruneRequest {
  /** Delete results finished before this time. */
  finishedBefore: Date;
  statuses: readonly TaskResultStatus[];
  /** Count only, delete nothing. */
  dryRun: boolean;
  /** Results deleted per statement. */
  batchSize: number;
}

/** A worker as `tasks:status` lists it. */
export interface WorkerStatus {
  id: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  startedAt: Date;
  heartbeatAt: Date;
}

/** The last tick of a periodic task that was enqueued, as the backend recorded it. */
export interface ScheduleTickStatus {
  taskName: string;
  lastTick: Date;
}

/** What `tasks:status` shows. */
export interface BackendStatus {
  counts: { queue: string; status: string; count: number }[];
  workers: WorkerStatus[];
  /** Periodic tasks' last enqueued ticks, where the backend records them (see `WorkerQueue.claimTick`). */
  lastTicks?: ScheduleTickStatus[];
}

/**
 * Administration of a backend that keeps results: what `tasks:status` and
 * `tasks:prune` use, offered through `TaskBackend.admin()`.
 */
export interface BackendAdmin {
  /** Deletes (or with `dryRun` counts) finished results; returns how many. */
  prune(request: PruneRequest): Promise<number>;
  status(): Promise<BackendStatus>;
  /**
   * Since when the longest-waiting READY task has been due (enqueued to run
   * at or before now, and not yet claimed), or null when no READY task is
   * due: what a health check's `maxReadyAgeMs` measures.
   */
  oldestDueReady(): Promise<Date | null>;
  /**
   * Listing, retrying and cancelling results (the dashboard), where the
   * backend offers it; without it the dashboard shows counts and workers.
   */
  readonly results?: ResultsAdmin;
}
