import type { EntityManager } from 'typeorm';
import type { TaskErrorRecord } from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import type { TaskResultData } from '../task/task-result-data.js';

/** A claimed task: its result, and why it cannot run when its stored form is damaged. */
export interface ClaimedTask {
  result: TaskResult<any>;
  problem: TaskErrorRecord | null;
}

/** The state written when an attempt ends. */
export interface AttemptRecord {
  /** The result's state after the attempt (SUCCESSFUL, FAILED, or READY for a retry). */
  data: TaskResultData;
  workerId: string;
  /** The attempt that ended (1-based): only the holder of this attempt may record it. */
  attempt: number;
  /** When a retried task may run again. */
  retryAt: Date | null;
}

/** A task a worker is running: its id and the attempt it holds. */
export interface HeldTask {
  id: string;
  attempt: number;
}

/**
 * What `heartbeat()` answers where the backend cancels running tasks (the
 * plain list of lost ids is still accepted, meaning nothing was cancelled).
 */
export interface HeartbeatReport {
  /** Held attempts the store no longer holds for the worker: they stop and record nothing. */
  lost: string[];
  /**
   * Held tasks whose cancel was requested (`TaskBackend.cancel`): their
   * attempts' signals are aborted with a `TaskCancelledError`, and they end
   * CANCELLED; unstarted ones are handed back (`release`).
   */
  cancelled: string[];
}

/**
 * What `complete()` answers where the backend cancels running tasks (the
 * plain list of written ids is still accepted, meaning none was cancelled).
 */
export interface CompletionReport {
  /** The ids of the records written: still held by their worker in that attempt. */
  written: string[];
  /**
   * Those of them written CANCELLED whatever their record said, because
   * their cancel was requested before the write (after the worker's last
   * heartbeat).
   */
  cancelled: string[];
}

/** What a worker registers about itself. */
export interface WorkerInfo {
  workerId: string;
  /** Queue names it takes from; null for every queue the backend accepts. */
  queues: readonly string[] | null;
  concurrency: number;
}

/**
 * The queue a worker consumes (`tasks:work`, the in-process worker): what a
 * backend offers through `TaskBackend.workerQueue()` for workers to run its
 * tasks. Every call is batched where it can be: claims take as many tasks as
 * the worker has free slots (and, where `release` exists, a few more it
 * keeps ready), completions are written many per call.
 *
 * The contract a worker relies on: a claimed task is held by that worker
 * (its lease) until it records the attempt, or until it stops heartbeating
 * for `leaseMs` and is gone; only then may `rescueExpired()` of another
 * worker take it; `complete()` writes only attempts the worker still holds.
 *
 * Cancelling running tasks is optional. A backend that offers it (its
 * `cancel()` accepts a RUNNING result) stores the request, reports it in
 * the holding worker's heartbeat answers (`HeartbeatReport`), and ends the
 * task CANCELLED, never READY again, whatever is written for it next:
 * an outcome (`complete()`, which reports it), a hand-back (`release()`) or
 * a rescue (`rescueExpired()`, `recoverOrphans()`).
 */
export interface WorkerQueue {
  /** How long a claimed task stays held without a heartbeat. */
  readonly leaseMs: number;
  registerWorker(info: WorkerInfo): Promise<void>;
  unregisterWorker(workerId: string): Promise<void>;
  /** Takes up to `limit` READY tasks of `queues` (null: every queue the backend accepts), best first. */
  claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]>;
  /**
   * Hands back claimed tasks whose attempt never started (a worker's
   * prefetched tasks when it stops): READY again as before the claim, the
   * attempt not counted. Only attempts the worker still holds are changed.
   * Optional: without it, a worker claims no more than it can start.
   */
  release?(workerId: string, held: readonly HeldTask[]): Promise<void>;
  /**
   * Writes outcomes; returns the ids of those still held by their worker in
   * that attempt, and so written (or a `CompletionReport` of them).
   */
  complete(
    records: readonly AttemptRecord[],
  ): Promise<string[] | CompletionReport>;
  /** Whether a failed write was the store refusing the data (too large, invalid), as opposed to a lost connection. */
  isRefusal(error: unknown): boolean;
  /**
   * Proves the worker alive: extends the leases of the tasks it holds.
   * Returns the ids of those it no longer holds (rescued by another worker
   * meanwhile): their attempts must stop and record nothing. A backend that
   * cancels running tasks answers a `HeartbeatReport`, which also names
   * the held tasks whose cancel was requested.
   */
  heartbeat(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<string[] | HeartbeatReport>;
  /**
   * Calls `onCancel` as soon as this process requests the cancel of a
   * running task (through the backend's `cancel()`), so that a worker here
   * stops it before its next heartbeat. Returns a function that stops
   * watching. Optional: heartbeats report cancels anyway.
   */
  watchCancels?(onCancel: (id: string) => void): () => void;
  /**
   * Hands back, as interrupted attempts, tasks still marked as this
   * worker's whose lease ran out although it does not hold them (an attempt
   * that ended without a recorded outcome, or an earlier process with the
   * same worker id). `held` is everything the worker holds, taken while no
   * claim of it is on its way. Returns how many it handed back. Optional.
   */
  recoverOrphans?(workerId: string, held: readonly HeldTask[]): Promise<number>;
  /**
   * Fails or re-queues (after their retry delay) the tasks of other workers
   * that are gone: their lease ran out and, where the store can tell, their
   * worker no longer lives. Returns how many it rescued.
   */
  rescueExpired(rescuerId: string): Promise<number>;
  /** Saves a running task's progress where other processes can read it. */
  saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: Record<string, unknown>,
  ): Promise<void>;
  /**
   * For `transactional` tasks (backends with `supportsTransactional`): runs
   * `attempt` inside a transaction of the store. When it returns a record
   * (a success), that record is written in the same transaction, fenced by
   * the lease, and the transaction commits; when it returns null (a
   * failure, or the lease lost) or the record is no longer held, it rolls
   * back. Resolves with whether the record was written, or with
   * `'cancelled'` when the result's cancel was requested before the record
   * was written: then it rolled back, and the worker records the attempt
   * CANCELLED through `complete()`.
   */
  inTransaction?(
    held: HeldTask,
    attempt: (manager: EntityManager) => Promise<AttemptRecord | null>,
  ): Promise<boolean | 'cancelled'>;
  /**
   * For periodic tasks: decides, once for every worker of the store, who
   * enqueues the tick `tick` of the task `taskName`. Advances the task's
   * last enqueued tick to `tick` only when it is earlier (a compare-and-set)
   * and, only then, calls `enqueue` with the store's transaction where it has
   * one (the enqueue is written in it, so the tick and its task commit or
   * roll back together), else with null after the tick is taken. A task
   * seen for the first time gets its tick recorded without an enqueue: its
   * schedule starts at its next tick. Resolves with whether this call
   * enqueued the tick. Optional: without it each process decides alone, so
   * only one worker process may run the backend's periodic tasks.
   */
  claimTick?(
    taskName: string,
    tick: Date,
    enqueue: (transaction: EntityManager | null) => Promise<void>,
  ): Promise<boolean>;
  /**
   * Makes deferred tasks that have fallen due claimable, at most `limit` of
   * them (the earliest due first), for a store that keeps deferred tasks
   * apart from the ones claims read, so that no claim walks past them
   * however many wait. Every worker calls it, at least once per polling
   * interval and when a deferred task it knows of falls due; calls of
   * several workers at once take distinct tasks. Resolves with how many it
   * made claimable, and when the first deferred task left falls due (epoch
   * ms: at or before now while more are due; null: none is deferred).
   * Optional: a store whose claims reach due tasks by themselves has none.
   */
  promoteDue?(
    limit: number,
  ): Promise<{ promoted: number; nextDueAt: number | null }>;
  /**
   * Calls `onWake` when new work may be there: with no argument when it may
   * be claimable now, with a time (epoch ms) when deferred work falls due
   * then (see `promoteDue`). `wantsWork` tells whether the worker would
   * claim now, for a store whose wake-ups go to one worker of many (a busy
   * worker leaves them to others). `queues` are the queues the worker
   * claims from (null: every one), for a store that listens queue by queue.
   * Returns a function that stops listening.
   */
  listen(
    onWake: (dueAt?: number) => void,
    wantsWork?: () => boolean,
    queues?: readonly string[] | null,
  ): Promise<() => Promise<void>>;
}
