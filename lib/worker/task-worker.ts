import { Logger } from '@nestjs/common';
import { TaskInterruptedError } from '../errors/task-interrupted.error.js';
import type { InMemoryRunner } from '../execution/run-in-memory.js';
import { toErrorRecord } from '../task/task-error-record.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { OutcomeRecorder } from './outcome-recorder.js';
import { failed, succeeded } from './attempt-outcomes.js';
import type { WorkerOptions } from './worker-options.js';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerSource,
} from './worker-source.js';

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
  private wakePending = false;
  private wakeUp: () => void = () => (this.wakePending = true);
  private abortRequested: () => void = () => {};
  private readonly abortSignal = new Promise<void>(
    (resolve) => (this.abortRequested = resolve),
  );

  constructor(
    private readonly source: WorkerSource,
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
      `Worker ${workerId} started on backend '${this.source.alias}', queues ${queues ? queues.join(', ') : '*'}, concurrency ${concurrency}`,
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
          this.logger.warn(`Could not unregister worker: ${error}`),
        );
    }
    this.logger.log(
      `Worker ${workerId} stopped (${this.aborted ? 'aborted' : 'drained'}) after ${this.started} task(s)`,
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
      await this.sleep();
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
        `Claiming tasks failed; retrying after ${this.options.intervalMs} ms`,
        (error as Error)?.stack,
      );
      return null;
    }
  }

  /** Waits for a wake-up (new task, free slot, stop) or the polling interval; a wake-up that came meanwhile counts. */
  private sleep(): Promise<void> {
    if (this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = () => (this.wakePending = true);
        resolve();
      };
      const timer = setTimeout(done, this.options.intervalMs);
      this.wakeUp = done;
    });
  }

  private wake(): void {
    this.wakeUp();
  }

  private start(task: ClaimedTask): void {
    this.started += 1;
    const stop = new AbortController();
    const done = this.execute(task, stop.signal)
      .catch((error: unknown) =>
        this.logger.error(
          `Running task ${task.result.id} failed unexpectedly`,
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
    let outcome: AttemptRecord;
    if (problem) {
      outcome = failed(result, problem, this.workerId, true);
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
      outcome = ran.ok
        ? succeeded(result, ran.returnValue, this.workerId)
        : failed(result, ran.error, this.workerId);
    }
    try {
      outcome = await this.recorder.record(outcome);
    } catch (error) {
      this.logger.error(
        `Recording the outcome of task ${result.id} failed; its lease will expire and another worker will rescue it`,
        (error as Error)?.stack,
      );
      return;
    }
    result.update(outcome.data);
    if (outcome.data.status !== TaskResultStatus.READY)
      await this.runner.emit('finished', result);
  }

  private async beat(): Promise<void> {
    try {
      await this.source.heartbeat(this.workerId, [...this.running.keys()]);
      await this.source.rescueExpired();
    } catch (error) {
      this.logger.warn(
        `Heartbeat failed: ${(error as Error)?.message ?? error}`,
      );
    }
  }

  /** Waits for running tasks up to the shutdown timeout or an abort, then interrupts what is left. */
  private async drain(): Promise<void> {
    if (this.running.size === 0) return;
    this.logger.log(
      `Waiting up to ${this.options.shutdownTimeoutMs} ms for ${this.running.size} running task(s)`,
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
    const error = toErrorRecord(
      new TaskInterruptedError(
        `Worker ${this.workerId} was stopped while the task ran.`,
      ),
    );
    const records = [...this.running.values()].map(({ result, stop }) => {
      stop.abort(
        new TaskInterruptedError(`Worker ${this.workerId} is shutting down.`),
      );
      return failed(result, error, this.workerId);
    });
    this.running.clear();
    this.logger.warn(`Interrupted ${records.length} running task(s)`);
    await Promise.all(
      records.map((record) =>
        this.recorder
          .record(record)
          .catch((failure: unknown) =>
            this.logger.error(
              `Recording the interruption of task ${record.data.id} failed: ${(failure as Error)?.message ?? failure}`,
            ),
          ),
      ),
    );
  }
}
