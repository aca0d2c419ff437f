import type { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerQueue,
} from '../backends/worker-queue.js';
import {
  attemptCancelled,
  attemptFailed,
  attemptSucceeded,
  type AttemptVerdict,
} from '../execution/attempt-policy.js';
import type { InMemoryRunner } from '../execution/run-in-memory.js';
import type { AttemptOutcome } from '../execution/task-executor.js';
import { toErrorRecord } from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { TaskMessages } from '../tasks.messages.js';
import type { AttemptStop } from './attempt-stop.js';
import type { OutcomeRecorder, Recorded } from './outcome-recorder.js';

/** One attempt a worker runs. */
export interface Running {
  result: TaskResult<any>;
  attempt: number;
  stop: AttemptStop;
  done: Promise<void>;
  /** Another worker took the task over: the attempt records nothing. */
  lost: boolean;
  /** The result was cancelled while the attempt ran: it ends CANCELLED, whatever the attempt does. */
  cancelled: boolean;
  /** Its outcome is being written: whether the store still held it, the write decides. */
  recording: boolean;
  /** When its claim arrived (monotonic ms). */
  claimedAt: number;
  /** When its code started (monotonic ms). */
  startedAt: number;
}

/** What running attempts needs besides the queue: the executor, events, and joining a transaction. */
export interface WorkerRunner extends InMemoryRunner {
  /** Runs `work` so that enqueues made inside join the transaction of `manager`. */
  joinTransaction<T>(
    manager: EntityManager,
    work: () => Promise<T>,
  ): Promise<T>;
}

/**
 * Runs the attempts a worker claimed and records their outcomes: through
 * the outcome recorder, or, for `transactional` tasks, in the attempt's own
 * transaction. Only outcomes the store took are announced.
 */
export class AttemptRunner {
  constructor(
    private readonly queue: WorkerQueue,
    private readonly runner: WorkerRunner,
    private readonly recorder: OutcomeRecorder,
    private readonly logger: Logger,
    private readonly workerId: string,
    /** Whether the worker aborted its running tasks (their outcome is the interruption). */
    private readonly aborted: () => boolean,
    /** Told when a retry this worker recorded falls due. */
    private readonly onRetry: (id: string, dueAt: number) => void,
    /**
     * Told, once the current call stack has unwound, when an attempt's code
     * has ended and its outcome is being written; `measured` is false when
     * no code ran (a damaged row).
     */
    private readonly onCodeEnded: (entry: Running, measured: boolean) => void,
  ) {}

  /** Runs the attempt of a claimed task and records what became of it. */
  async execute(
    entry: Running,
    problem: ClaimedTask['problem'],
  ): Promise<void> {
    const { result } = entry;
    if (problem) {
      await this.record(
        entry,
        attemptFailed(result, problem, { final: true }),
        false,
      );
      return;
    }
    await this.runner.emit('started', result);
    if (result.task.transactional && this.queue.inTransaction) {
      await this.executeInTransaction(entry);
      return;
    }
    const ran = await this.attempt(entry, null);
    if (this.aborted() || entry.lost) return;
    await this.record(entry, this.verdictOf(result, ran));
  }

  /** Writes an outcome through the recorder, then announces it; false when it could not be written. */
  async record(
    entry: Running,
    verdict: AttemptVerdict,
    ranCode = true,
  ): Promise<boolean> {
    this.markRecording(entry, ranCode);
    let recorded: Recorded;
    try {
      recorded = await this.recorder.record(this.recordOf(entry, verdict));
    } catch (error) {
      this.logger.error(
        TaskMessages.recordFailed(entry.result.id),
        (error as Error)?.stack,
      );
      return false;
    }
    await this.announce(entry, recorded);
    return true;
  }

  private markRecording(entry: Running, ranCode = true): void {
    if (entry.recording) return;
    entry.recording = true;
    queueMicrotask(() => this.onCodeEnded(entry, ranCode));
  }

  /** What is written for an attempt this worker holds: CANCELLED, whatever the verdict, once its result was cancelled. */
  recordOf(entry: Running, verdict: AttemptVerdict): AttemptRecord {
    const final = entry.cancelled ? attemptCancelled(verdict) : verdict;
    return { ...final, workerId: this.workerId, attempt: entry.attempt };
  }

  /**
   * A transactional attempt: the task runs in a transaction of the store
   * and its success is written in it, fenced by the lease. A failure, or a
   * cancelled attempt whatever it returned, rolls the task's writes back
   * and is recorded like any other outcome.
   */
  private async executeInTransaction(entry: Running): Promise<void> {
    let success: AttemptRecord | null = null;
    let rolledBack: AttemptVerdict | null = null;
    let written: boolean | 'cancelled';
    try {
      const held = { id: entry.result.id, attempt: entry.attempt };
      written = await this.queue.inTransaction!(held, async (manager) => {
        const ran = await this.runner.joinTransaction(manager, () =>
          this.attempt(entry, manager),
        );
        if (this.aborted() || entry.lost) return null;
        const verdict = this.verdictOf(entry.result, ran);
        if (!ran.ok || entry.cancelled) {
          rolledBack = verdict;
          return null;
        }
        this.markRecording(entry);
        success = this.recordOf(entry, verdict);
        return success;
      });
    } catch (error) {
      // The transaction broke (connection lost, commit refused): the attempt
      // failed, and the fence keeps this from overwriting a commit that happened.
      if (!this.aborted() && !entry.lost)
        await this.record(
          entry,
          rolledBack ?? attemptFailed(entry.result, toErrorRecord(error)),
        );
      return;
    }
    if (written === 'cancelled' && success) {
      // Cancelled after the last heartbeat, before the write: rolled back.
      entry.cancelled = true;
      await this.record(entry, success);
    } else if (success)
      await this.announce(entry, {
        stored: success,
        written: written === true,
      });
    else if (rolledBack) await this.record(entry, rolledBack);
  }

  private attempt(
    entry: Running,
    manager: EntityManager | null,
  ): Promise<AttemptOutcome> {
    const { result } = entry;
    return this.runner.executor.runAttempt(
      result,
      entry.attempt,
      (progress, metadata) =>
        this.queue.saveProgress(result.id, this.workerId, progress, metadata),
      entry.stop,
      manager,
    );
  }

  private verdictOf(
    result: TaskResult<any>,
    ran: AttemptOutcome,
  ): AttemptVerdict {
    return ran.ok
      ? attemptSucceeded(result, ran.returnValue)
      : attemptFailed(result, ran.error);
  }

  /** Updates the result and tells listeners, for an outcome the store took; warns about one it discarded. */
  private async announce(
    { result }: Running,
    { stored, written }: Recorded,
  ): Promise<void> {
    if (!written) {
      this.logger.warn(
        TaskMessages.outcomeDiscarded(
          stored.data.id,
          stored.data.taskName,
          this.workerId,
        ),
      );
      return;
    }
    if (stored.retryAt) this.onRetry(stored.data.id, stored.retryAt.getTime());
    result.update(stored.data);
    if (stored.data.status !== TaskResultStatus.READY)
      await this.runner.emit('finished', result);
  }
}
