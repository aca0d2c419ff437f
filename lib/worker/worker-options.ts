import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';

/** How a worker runs. Times are in milliseconds. */
export interface WorkerOptions {
  /** The alias of the backend it consumes. */
  backend: string;
  /** Queue names to take from; null for every queue the backend accepts. */
  queues: readonly string[] | null;
  /** Tasks run at once. */
  concurrency: number;
  /**
   * At most this many claimed tasks kept ready beyond the free slots, so
   * that a freed slot starts the next task without waiting for the store
   * and claims carry many tasks per round trip. The worker keeps only what
   * its slots would run during one claim (none for tasks that run longer
   * than a claim takes); unstarted tasks are handed back, uncounted, when
   * it stops. 0: claim only what can start at once.
   */
  prefetch: number;
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

/** What a caller may choose about a worker; the rest has defaults. */
export interface WorkerRequest extends Partial<Omit<WorkerOptions, 'queues'>> {
  /** Queue names; omitted, empty or containing `'*'`: every queue the backend accepts. */
  queues?: readonly string[] | null;
}

export const DEFAULT_WORKER_OPTIONS = {
  concurrency: 10,
  /** The default `prefetch` is this many times the concurrency. */
  prefetchPerSlot: 10,
  intervalMs: 1000,
  shutdownTimeoutMs: 30_000,
};

/**
 * Checks a worker request against the backend's queues and fills in the
 * defaults, naming the option and the fix on any mistake.
 */
export function resolveWorkerOptions(
  request: WorkerRequest,
  backendQueues: readonly string[],
  newWorkerId: () => string,
): WorkerOptions {
  const backend = request.backend ?? DEFAULT_BACKEND_ALIAS;
  const queues =
    !request.queues ||
    request.queues.length === 0 ||
    request.queues.includes('*')
      ? null
      : request.queues;
  for (const queue of queues ?? []) {
    if (backendQueues.length > 0 && !backendQueues.includes(queue)) {
      throw new InvalidTaskBackendError(
        TaskMessages.workerQueueNotAccepted(backend, queue, backendQueues),
      );
    }
  }
  const whole = <T extends number | null>(
    name: string,
    value: number | null | undefined,
    min: number,
    fallback: T,
  ): number | T => {
    if (value === undefined || value === null) return fallback;
    if (!Number.isInteger(value) || value < min)
      throw new InvalidTaskBackendError(
        TaskMessages.badWorkerOption(name, value, min),
      );
    return value;
  };
  const concurrency = whole(
    'concurrency',
    request.concurrency,
    1,
    DEFAULT_WORKER_OPTIONS.concurrency,
  );
  return {
    backend,
    queues,
    concurrency,
    intervalMs: whole(
      'intervalMs',
      request.intervalMs,
      0,
      DEFAULT_WORKER_OPTIONS.intervalMs,
    ),
    shutdownTimeoutMs: whole(
      'shutdownTimeoutMs',
      request.shutdownTimeoutMs,
      0,
      DEFAULT_WORKER_OPTIONS.shutdownTimeoutMs,
    ),
    prefetch: whole(
      'prefetch',
      request.prefetch,
      0,
      DEFAULT_WORKER_OPTIONS.prefetchPerSlot * concurrency,
    ),
    maxTasks: whole('maxTasks', request.maxTasks, 1, null),
    batch: request.batch ?? false,
    workerId: request.workerId ?? newWorkerId(),
  };
}
