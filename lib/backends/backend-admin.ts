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

/**
 * How a count was read: `exact`, row by row; `estimate`, from the
 * database's statistics (a large number of finished results); `more-than`,
 * counting stopped at `count` rows and there are more.
 */
export type CountPrecision = 'exact' | 'estimate' | 'more-than';

/** A number of results, and how it was read. */
export interface ResultCount {
  count: number;
  /** Absent: exact. */
  precision?: CountPrecision;
}

/** The queue of a count over every queue: too many results to count queue by queue cheaply. */
export const ALL_QUEUES = '*';

/** The results of one queue (or `ALL_QUEUES`) in one status. */
export interface StatusCount extends ResultCount {
  queue: string;
  status: string;
}

/** What `tasks:status` shows. */
export interface BackendStatus {
  counts: StatusCount[];
  workers: WorkerStatus[];
  /** Periodic tasks' last enqueued ticks, where the backend records them (see `WorkerQueue.claimTick`). */
  lastTicks?: ScheduleTickStatus[];
}

/**
 * Administration of a backend that keeps results: what `tasks:status` and
 * `tasks:prune` use, offered through `TaskBackend.admin()`.
 */
export interface BackendAdmin {
  /**
   * Deletes (or with `dryRun` counts) finished results; returns how many
   * (a dry run of a large prune may return an estimate).
   */
  prune(request: PruneRequest): Promise<number | ResultCount>;
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
