import { Logger } from '@nestjs/common';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerQueue,
} from '../backends/worker-queue.js';
import { TaskInterruptedError } from '../errors/task-interrupted.error.js';
import {
  attemptFailed,
  attemptInterrupted,
  attemptSucceeded,
  type AttemptVerdict,
} from '../execution/attempt-policy.js';
import type { InMemoryRunner } from '../execution/run-in-memory.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { OutcomeRecorder } from './outcome-recorder.js';
import { WakeSignal } from './wake-signal.js';
import type { WorkerOptions } from './worker-options.js';

/** How a worker's run ended. */
export type WorkerExit = 'drained' | 'aborted';

/**
 * Pulls tasks from a backend and runs them: claims as many as it has free
 * slots, heartbeats while they run, writes outcomes in batches, rescues tasks
 * of dead workers, and stops gracefully (or aborts) on request.
 */
export class TaskWorker {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private readonly running = new Map<
    string,
    { result: TaskResult<any>; done: Promise<void>; stop: AbortController }
  >();
  private readonly recorder: OutcomeRecorder;
  private stopping = false;
  private aborted = false;
  private started = 0;
  private moreMayBeReady = true;
  private readonly wakeSignal = new WakeSignal();
  private abortRequested: () => void = () => {};
  private readonly abortSignal = new Promise<void>(
    (resolve) => (this.abortRequested = resolve),
  );

  constructor(
    private readonly source: WorkerQueue,
    private readonly runner: InMemoryRunner,
    readonly options: WorkerOptions,
  ) {
    this.recorder = new OutcomeRecorder(
      source,
      this.logger,
      () => this.aborted,
    );
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Runs until stopped, drained (`batch`) or `maxTasks` reached. */
  async run(): Promise<WorkerExit> {
    const { workerId, queues, concurrency } = this.options;
    await this.source.registerWorker({ workerId, queues, concurrency });
    const stopListening = await this.source.listen(() => this.wake());
    const heartbeat = setInterval(
      () => void this.beat(),
      Math.max(50, Math.floor(this.source.leaseMs / 3)),
    );
    this.logger.log(
      TaskMessages.workerStarted(
        workerId,
        this.options.backend,
        queues,
        concurrency,
      ),
    );
    try {
      await this.beat();
      await this.loop();
      await this.drain();
    } finally {
      clearInterval(heartbeat);
      await stopListening();
      await this.source
        .unregisterWorker(workerId)
        .catch((error) =>
          this.logger.warn(TaskMessages.unregisterFailed(workerId, error)),
        );
    }
    this.logger.log(
      TaskMessages.workerStopped(workerId, this.aborted, this.started),
    );
    return this.aborted ? 'aborted' : 'drained';
  }

  /** Stops claiming; running tasks finish within the shutdown timeout. */
  stop(): void {
    this.stopping = true;
    this.wake();
  }

  /** Stops at once: running tasks are recorded as interrupted (re-queued while attempts remain). */
  abort(): void {
    this.abortRequested();
    this.stop();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const free = this.freeSlots();
      if (free > 0 && this.moreMayBeReady) {
        const claimed = await this.claim(free);
        if (claimed) {
          this.moreMayBeReady = claimed.length === free;
          for (const task of claimed) this.start(task);
          if (this.limitReached()) break;
          if (this.moreMayBeReady && this.freeSlots() > 0) continue;
          if (
            this.options.batch &&
            claimed.length === 0 &&
            this.running.size === 0
          )
            break;
        }
      }
      await this.wakeSignal.sleep(this.options.intervalMs);
      this.moreMayBeReady = true;
    }
  }

  private freeSlots(): number {
    const slots = this.options.concurrency - this.running.size;
    const budget =
      this.options.maxTasks === null
        ? Infinity
        : this.options.maxTasks - this.started;
    return Math.max(0, Math.min(slots, budget));
  }

  private limitReached(): boolean {
    return (
      this.options.maxTasks !== null && this.started >= this.options.maxTasks
    );
  }

  /** Claims up to `limit` tasks; null when claiming failed (which is not an empty queue). */
  private async claim(limit: number): Promise<ClaimedTask[] | null> {
    try {
      return await this.source.claim(this.workerId, this.options.queues, limit);
    } catch (error) {
      this.logger.error(
        TaskMessages.claimFailed(this.options.intervalMs),
        (error as Error)?.stack,
      );
      return null;
    }
  }

  private wake(): void {
    this.wakeSignal.wake();
  }

  private start(task: ClaimedTask): void {
    this.started += 1;
    const stop = new AbortController();
    const done = this.execute(task, stop.signal)
      .catch((error: unknown) =>
        this.logger.error(
          TaskMessages.runFailedUnexpectedly(task.result.id),
          (error as Error)?.stack,
        ),
      )
      .finally(() => {
        this.running.delete(task.result.id);
        this.moreMayBeReady = true;
        this.wake();
      });
    this.running.set(task.result.id, { result: task.result, done, stop });
  }

  private async execute(
    { result, problem }: ClaimedTask,
    abort: AbortSignal,
  ): Promise<void> {
    let verdict: AttemptVerdict;
    if (problem) {
      verdict = attemptFailed(result, problem, { final: true });
    } else {
      await this.runner.emit('started', result);
      const ran = await this.runner.executor.runAttempt(
        result,
        result.attempts,
        (progress, metadata) =>
          this.source.saveProgress(
            result.id,
            this.workerId,
            progress,
            metadata,
          ),
        abort,
      );
      if (this.aborted || !this.running.has(result.id)) return;
      verdict = ran.ok
        ? attemptSucceeded(result, ran.returnValue)
        : attemptFailed(result, ran.error);
    }
    let outcome: AttemptRecord;
    try {
      outcome = await this.recorder.record(this.recordOf(result, verdict));
    } catch (error) {
      this.logger.error(
        TaskMessages.recordFailed(result.id),
        (error as Error)?.stack,
      );
      return;
    }
    result.update(outcome.data);
    if (outcome.data.status !== TaskResultStatus.READY)
      await this.runner.emit('finished', result);
  }

  /** What is written for an attempt of `result` that this worker holds. */
  private recordOf(
    result: TaskResult<any>,
    verdict: AttemptVerdict,
  ): AttemptRecord {
    return { ...verdict, workerId: this.workerId, attempt: result.attempts };
  }

  private async beat(): Promise<void> {
    try {
      await this.source.heartbeat(this.workerId, [...this.running.keys()]);
      await this.source.rescueExpired();
    } catch (error) {
      this.logger.warn(TaskMessages.heartbeatFailed(error));
    }
  }

  /** Waits for running tasks up to the shutdown timeout or an abort, then interrupts what is left. */
  private async drain(): Promise<void> {
    if (this.running.size === 0) return;
    this.logger.log(
      TaskMessages.drainWaiting(
        this.options.shutdownTimeoutMs,
        this.running.size,
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (resolve) =>
        (timer = setTimeout(
          () => resolve('timeout'),
          this.options.shutdownTimeoutMs,
        )),
    );
    const finished = Promise.all(
      [...this.running.values()].map((entry) => entry.done),
    ).then(() => 'done' as const);
    const how = await Promise.race([
      finished,
      timeout,
      this.abortSignal.then(() => 'aborted' as const),
    ]);
    clearTimeout(timer);
    if (how !== 'done') await this.interruptRunning();
  }

  private async interruptRunning(): Promise<void> {
    this.aborted = true;
    const records = [...this.running.values()].map(({ result, stop }) => {
      stop.abort(
        new TaskInterruptedError(
          TaskMessages.workerShuttingDown(this.workerId),
        ),
      );
      return this.recordOf(
        result,
        attemptInterrupted(
          result,
          TaskMessages.workerStoppedTask(this.workerId),
        ),
      );
    });
    this.running.clear();
    this.logger.warn(TaskMessages.interrupted(records.length));
    await Promise.all(
      records.map((record) =>
        this.recorder
          .record(record)
          .catch((failure: unknown) =>
            this.logger.error(
              TaskMessages.recordInterruptionFailed(record.data.id, failure),
            ),
          ),
      ),
    );
  }
}
