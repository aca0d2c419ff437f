import type { TaskErrorRecord } from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';

/** A claimed task: its result, and why it cannot run when its stored row is damaged. */
export interface ClaimedTask {
  result: TaskResult<any>;
  problem: TaskErrorRecord | null;
}

/** The state written when an attempt ends. */
export interface AttemptRecord {
  /** The result's state after the attempt (SUCCESSFUL, FAILED, or READY for a retry). */
  data: TaskResultData;
  workerId: string;
  attempt: number;
  /** When a retried task may run again. */
  retryAt: Date | null;
}

/** What a worker registers about itself. */
export interface WorkerInfo {
  workerId: string;
  queues: readonly string[] | null;
  concurrency: number;
}

/**
 * A backend that workers pull tasks from. Every call is batched where it can
 * be: claims take as many tasks as the worker has free slots, completions
 * are written many per statement.
 */
export interface WorkerSource {
  readonly alias: string;
  /** How long a claimed task stays held without a heartbeat. */
  readonly leaseMs: number;
  /** The queue names this backend accepts (empty: any). */
  readonly queues: readonly string[];
  registerWorker(info: WorkerInfo): Promise<void>;
  unregisterWorker(workerId: string): Promise<void>;
  claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]>;
  /** Writes outcomes; returns how many rows this worker still held and so wrote. */
  complete(records: readonly AttemptRecord[]): Promise<number>;
  /** Whether a failed write was the database refusing the data (too large, invalid), as opposed to a lost connection. */
  isRefusal(error: unknown): boolean;
  /** Proves the worker alive: extends the leases of the tasks it holds. */
  heartbeat(workerId: string, heldIds: readonly string[]): Promise<void>;
  /** Fails or re-queues tasks whose worker stopped heartbeating; returns how many. */
  rescueExpired(): Promise<number>;
  saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: Record<string, unknown>,
  ): Promise<void>;
  /** Calls `onWake` when new work may be there; returns a function that stops listening. */
  listen(onWake: () => void): Promise<() => Promise<void>>;
}

export function isWorkerSource(value: unknown): value is WorkerSource {
  const candidate = value as Partial<WorkerSource> | null;
  return (
    typeof candidate?.claim === 'function' &&
    typeof candidate?.complete === 'function' &&
    typeof candidate?.heartbeat === 'function'
  );
}
