// Longer than most files here on purpose: the claim loop, the running set
// and the two-stage shutdown share their state and read best together; the
// heartbeat, the attempts and the outcome writes live in their own files.
import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type {
  ClaimedTask,
  HeldTask,
  WorkerQueue,
} from '../backends/worker-queue.js';
import { TaskCancelledError } from '../errors/task-cancelled.error.js';
import { TaskInterruptedError } from '../errors/task-interrupted.error.js';
import { attemptInterrupted } from '../execution/attempt-policy.js';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { OutageLog } from './outage-log.js';
import { OutboxSweeper } from './outbox-sweeper.js';
import {
  AttemptRunner,
  type Running,
  type WorkerRunner,
} from './attempt-runner.js';
import { AttemptStop } from './attempt-stop.js';
import { OutcomeRecorder } from './outcome-recorder.js';
import { ClaimBuffer, type Buffered } from './claim-buffer.js';
import { DeferredPromoter } from './deferred-promoter.js';
import { TaskHandback } from './task-handback.js';
import { TickScheduler, type PeriodicTasks } from './tick-scheduler.js';
import { WakeSignal } from './wake-signal.js';
import { WorkerHeartbeat } from './worker-heartbeat.js';
import type { WorkerOptions } from './worker-options.js';

/** How a worker's run ended. */
export type WorkerExit = 'drained' | 'aborted';

/**
 * Pulls tasks from a backend's worker queue and runs them: claims in
 * batches into a small local buffer (`prefetch` tasks beyond its free
 * slots), starts one whenever a slot frees, heartbeats while they run,
 * writes outcomes in batches while the next tasks run, rescues tasks of
 * workers that are gone, relays what the backend's outbox holds, and stops
 * gracefully (or aborts) on request, handing its unstarted tasks back.
 */
export class TaskWorker {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  /** Attempts held by this worker that started: running, or their outcome being written. */
  private readonly running = new Map<string, Running>();
  /** Claimed tasks not started yet, best first. */
  private readonly buffer: ClaimBuffer;
  /** Claimed tasks that never started, on their way back to the queue. */
  private readonly handback: TaskHandback;
  private readonly outage: OutageLog;
  private readonly recorder: OutcomeRecorder;
  private readonly attempts: AttemptRunner;
  private readonly wakeSignal = new WakeSignal();
  /** When retries this worker recorded become due (epoch ms), for `batch`. */
  private readonly retries = new Map<string, number>();
  private stopping = false;
  private aborted = false;
  /** Set when a stop begins: outcomes are retried until then at the latest. */
  private recordingDeadline: number | null = null;
  private started = 0;
  private moreMayBeReady = true;
  /** How many attempts' code runs now: counted up at their start, down when their code ends or they are dropped. */
  private executingCount = 0;
  /** A claim is on its way: the store may hold tasks for this worker that it does not know yet. */
  private claiming = false;
  private readonly heartbeat: WorkerHeartbeat;
  private readonly scheduler: TickScheduler;
  private readonly sweeper: OutboxSweeper;
  /** Makes deferred tasks claimable once due, where the queue keeps them apart. */
  private readonly promoter: DeferredPromoter | null;
  private stopRequested: () => void = () => {};
  private readonly stopSignal = new Promise<void>(
    (resolve) => (this.stopRequested = resolve),
  );
  private abortRequested: () => void = () => {};
  private readonly abortSignal = new Promise<void>(
    (resolve) => (this.abortRequested = resolve),
  );

  constructor(
    private readonly queue: WorkerQueue,
    runner: WorkerRunner,
    readonly options: WorkerOptions,
    /** The periodic tasks it enqueues at their ticks while it runs. */
    periodic: PeriodicTasks = { tasks: [], claim: async () => false },
    /** One sweep of the backend's outbox, or null when it has none. */
    sweepOutbox: (() => Promise<number>) | null = null,
  ) {
    this.buffer = new ClaimBuffer(
      options.concurrency,
      queue.release ? options.prefetch : 0,
    );
    this.outage = new OutageLog(this.logger, options.backend);
    this.handback = new TaskHandback(
      queue,
      options.workerId,
      this.logger,
      () =>
        this.recordingDeadline !== null && Date.now() > this.recordingDeadline,
    );
    this.recorder = new OutcomeRecorder(
      queue,
      this.logger,
      this.outage,
      () =>
        this.recordingDeadline !== null && Date.now() > this.recordingDeadline,
    );
    this.attempts = new AttemptRunner(
      queue,
      runner,
      this.recorder,
      this.logger,
      options.workerId,
      () => this.aborted,
      (id, dueAt) => {
        if (options.batch) this.retries.set(id, dueAt);
        this.promoter?.expect(dueAt);
      },
      (entry, measured) => this.codeEnded(entry, measured),
    );
    this.heartbeat = new WorkerHeartbeat(
      queue,
      options.workerId,
      this.logger,
      this.outage,
      () => [
        ...[...this.running.values()].map((entry) => ({
          id: entry.result.id,
          attempt: entry.attempt,
        })),
        ...this.buffer.held(),
        ...this.handback.held(),
      ],
      (task, since) => this.loseLease(task, since),
      (task, since) => this.cancelAttempt(task, since),
      () => this.claiming,
    );
    this.scheduler = new TickScheduler(
      periodic,
      options.intervalMs,
      this.outage,
    );
    // An outage log of its own: the outbox's database may answer while the queue does not, or the reverse.
    this.sweeper = new OutboxSweeper(
      sweepOutbox,
      options.intervalMs,
      new OutageLog(this.logger, options.backend),
    );
    const { promoteDue } = queue;
    this.promoter = promoteDue
      ? new DeferredPromoter(
          { promoteDue: (limit) => promoteDue.call(queue, limit) },
          options.intervalMs,
          this.outage,
          () => this.wake(),
        )
      : null;
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Runs until stopped, drained (`batch`) or `maxTasks` reached. */
  async run(): Promise<WorkerExit> {
    const { workerId, queues, concurrency } = this.options;
    await this.queue.registerWorker({ workerId, queues, concurrency });
    let stopListening = async () => {};
    const stopWatching =
      this.queue.watchCancels?.((id) => this.cancelHere(id)) ?? (() => {});
    try {
      stopListening = await this.queue.listen(
        (dueAt) => this.heard(dueAt),
        () => !this.stopping && this.claimSize() > 0,
        queues,
      );
      this.logger.log(
        TaskMessages.workerStarted(
          workerId,
          this.options.backend,
          queues,
          concurrency,
        ),
      );
      await this.heartbeat.start();
      this.promoter?.start();
      await this.scheduler.start();
      await this.sweeper.start();
      await this.loop();
      this.scheduler.stop();
      this.sweeper.stop();
      this.promoter?.stop();
      await this.drain();
    } finally {
      this.scheduler.stop();
      this.sweeper.stop();
      this.promoter?.stop();
      await this.scheduler.settled();
      await this.sweeper.settled();
      await this.promoter?.settled();
      stopWatching();
      await this.heartbeat.stop();
      await stopListening();
      await this.queue
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
    if (!this.stopping)
      this.recordingDeadline = Date.now() + this.options.shutdownTimeoutMs;
    this.stopping = true;
    this.scheduler.stop();
    this.sweeper.stop();
    this.stopRequested();
    this.wake();
  }

  /** Stops at once: running tasks are recorded as interrupted (re-queued while attempts remain). */
  abort(): void {
    this.abortRequested();
    this.stop();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      this.startBuffered();
      if (this.limitReached()) break;
      const wanted = this.claimSize();
      if (wanted > 0 && this.moreMayBeReady) {
        this.claiming = true;
        const claimedAt = Date.now();
        const promotions = this.promoter?.promotions ?? 0;
        // A task that ends while the claim travels may commit tasks it
        // enqueued after the claim's snapshot: only an idle claim can drain.
        const idleAtClaim = this.running.size === 0 && this.buffer.size === 0;
        const claimed = await this.claim(wanted);
        // Only once they are buffered are the claimed tasks known as held.
        if (claimed) this.buffer.add(claimed);
        this.claiming = false;
        if (claimed) {
          this.moreMayBeReady = claimed.length === wanted;
          this.startBuffered();
          if (this.limitReached()) break;
          if (this.moreMayBeReady && this.claimSize() > 0) continue;
          if (
            this.options.batch &&
            claimed.length === 0 &&
            idleAtClaim &&
            this.running.size === 0 &&
            this.buffer.size === 0 &&
            !this.retryDueSoon(claimedAt) &&
            !(await this.promotedSince(promotions))
          )
            break;
        }
      }
      await this.wakeSignal.sleep(this.sleepMs());
      this.moreMayBeReady = true;
    }
  }

  /**
   * For `batch`: whether deferred tasks became claimable since the promoter
   * had made `promotions` calls that did, counting a pass run now: those
   * due by now are run before the worker exits.
   */
  private async promotedSince(promotions: number): Promise<boolean> {
    if (!this.promoter) return false;
    await this.promoter.passNow();
    return this.promoter.promotions !== promotions;
  }

  /** How long to sleep: the polling interval, or less when a retry of a batch run falls due sooner. */
  private sleepMs(): number {
    const now = Date.now();
    const soonest = Math.min(
      ...[...this.retries.values()].filter((due) => due > now),
    );
    return Math.min(
      this.options.intervalMs,
      soonest - now,
      this.buffer.msUntilStale(),
    );
  }

  /**
   * For `batch`: whether a retry this worker recorded falls due within one
   * polling interval of `claimedAt`, when the claim that returned nothing
   * was made. Retries already due then, which that claim did not return,
   * were taken by another worker, and are forgotten; one that fell due
   * while the claim travelled is kept, for the next claim.
   */
  private retryDueSoon(claimedAt: number): boolean {
    for (const [id, due] of this.retries)
      if (due <= claimedAt) this.retries.delete(id);
    return [...this.retries.values()].some(
      (due) => due - claimedAt <= this.options.intervalMs,
    );
  }

  /** Attempts whose task code runs now (not those whose outcome is being written). */
  private executing(): number {
    return this.executingCount;
  }

  /**
   * How many tasks to claim now: none while the buffer is more than half
   * full or outcomes are piling up unwritten; else enough to fill the free
   * slots and the buffer, within `maxTasks`.
   */
  private claimSize(): number {
    const { concurrency, maxTasks } = this.options;
    const prefetch = this.buffer.gauge.target(this.oldestRunningMs());
    if (this.buffer.size > Math.floor(prefetch / 2)) return 0;
    const executing = this.executing();
    if (this.running.size - executing >= concurrency + prefetch) return 0;
    const room = concurrency + prefetch - executing - this.buffer.size;
    const budget =
      maxTasks === null ? Infinity : maxTasks - this.started - this.buffer.size;
    return Math.max(0, Math.min(room, budget));
  }

  /** How long the attempt that started first among those whose code runs has run. */
  private oldestRunningMs(): number {
    const now = performance.now();
    let oldest = 0;
    for (const entry of this.running.values())
      if (!entry.recording) oldest = Math.max(oldest, now - entry.startedAt);
    return oldest;
  }

  /** Starts buffered tasks while slots are free. */
  private startBuffered(): void {
    // A stopping worker hands its unstarted tasks back; a queue that cannot take them back gets them run.
    if (this.stopping && this.queue.release) return;
    // Kept too long (the slots are busy with long tasks): back to the queue, never started late.
    this.handback.handBack(this.buffer.takeStale(), performance.now());
    while (this.options.concurrency - this.executing() > 0) {
      const next = this.buffer.take();
      if (!next) return;
      this.start(next);
    }
  }

  /** An attempt's code ended (its outcome is being written): its slot takes the next task. */
  private codeEnded(entry: Running, measured: boolean): void {
    if (this.running.get(entry.result.id) === entry) this.executingCount--;
    if (measured)
      this.buffer.gauge.taskEnded(performance.now() - entry.startedAt);
    this.startBuffered();
    this.wake();
  }

  private limitReached(): boolean {
    return (
      this.options.maxTasks !== null && this.started >= this.options.maxTasks
    );
  }

  /** Claims up to `limit` tasks; null when claiming failed (which is not an empty queue). */
  private async claim(limit: number): Promise<ClaimedTask[] | null> {
    try {
      const begun = performance.now();
      const claimed = await this.queue.claim(
        this.workerId,
        this.options.queues,
        limit,
      );
      if (claimed.length > 0)
        this.buffer.gauge.claimAnswered(performance.now() - begun);
      this.outage.answered();
      return claimed;
    } catch (error) {
      this.outage.failed('claiming tasks', error);
      return null;
    }
  }

  private wake(): void {
    this.wakeSignal.wake();
  }

  /** The queue told of new work: claimable now, or deferred work falling due at `dueAt` (for the promoter). */
  private heard(dueAt?: number): void {
    if (dueAt === undefined || !this.promoter) this.wake();
    else this.promoter.expect(dueAt);
  }

  private start({ task: { result, problem }, at }: Buffered): void {
    this.started += 1;
    this.retries.delete(result.id);
    const entry: Running = {
      result,
      attempt: result.attempts,
      stop: new AttemptStop(),
      done: Promise.resolve(),
      lost: false,
      cancelled: false,
      recording: false,
      claimedAt: at,
      startedAt: performance.now(),
    };
    // Counted as running before its attempt begins: a damaged row's attempt ends at once.
    this.running.set(result.id, entry);
    this.executingCount++;
    entry.done = this.attempts
      .execute(entry, problem)
      .catch((error: unknown) =>
        this.logger.error(
          TaskMessages.runFailedUnexpectedly(result.id),
          (error as Error)?.stack,
        ),
      )
      .finally(() => {
        // The same task may already run again here (a retry due at once).
        if (this.running.get(result.id) === entry) {
          this.running.delete(result.id);
          // Ended without recording anything (aborted): its code ended here.
          if (!entry.recording) this.executingCount--;
        }
        this.moreMayBeReady = true;
        this.wake();
      });
  }

  /**
   * The store no longer holds this attempt for this worker (as a heartbeat
   * that looked at the tasks held at `since` found): stop it, record
   * nothing. A report about an attempt whose outcome is being written, about
   * an earlier attempt of a task that runs here again, or about a claim that
   * arrived after `since` (a task handed back and claimed again) is stale.
   */
  private loseLease({ id, attempt }: HeldTask, since: number): void {
    if (this.buffer.drop({ id, attempt }, since)) return;
    if (this.handback.drop({ id, attempt }, since)) return;
    const entry = this.runningCode({ id, attempt }, since);
    if (!entry) return;
    entry.lost = true;
    const message = TaskMessages.leaseLost(
      id,
      entry.result.task.name,
      this.workerId,
    );
    this.logger.warn(message);
    entry.stop.abort(new TaskInterruptedError(message));
    this.running.delete(id);
    this.executingCount--;
  }

  /**
   * The running entry of exactly this attempt, claimed by `since`, whose
   * code still runs (not lost, not being recorded); else undefined.
   */
  private runningCode({ id, attempt }: HeldTask, since: number) {
    const entry = this.running.get(id);
    return entry &&
      !entry.lost &&
      !entry.recording &&
      entry.attempt === attempt &&
      entry.claimedAt <= since
      ? entry
      : undefined;
  }

  /**
   * The result of a held attempt was cancelled (as a heartbeat that looked
   * at the tasks held at `since` found, or a cancel made in this process):
   * a running attempt has its signal aborted and ends CANCELLED; an
   * unstarted one is handed back, which cancels it. Reports about attempts
   * not held, or no longer running their code, change nothing.
   */
  private cancelAttempt({ id, attempt }: HeldTask, since: number): void {
    if (this.queue.release && this.buffer.drop({ id, attempt }, since)) {
      this.handback.handBack([{ id, attempt }], performance.now());
      return;
    }
    const entry = this.runningCode({ id, attempt }, since);
    if (!entry || entry.cancelled) return;
    entry.cancelled = true;
    const message = TaskMessages.taskCancelled(id, entry.result.task.name);
    this.logger.log(message);
    entry.stop.abort(new TaskCancelledError(message));
  }

  /** A cancel of task `id` was requested in this process: whichever attempt of it this worker holds is cancelled. */
  private cancelHere(id: string): void {
    const attempt =
      this.running.get(id)?.attempt ??
      this.buffer.held().find((task) => task.id === id)?.attempt;
    if (attempt !== undefined)
      this.cancelAttempt({ id, attempt }, performance.now());
  }

  /**
   * Waits for running tasks: without limit after `--max-tasks` (until a
   * stop arrives), then up to the shutdown timeout or an abort; interrupts
   * what is left.
   */
  private async drain(): Promise<void> {
    this.handback.handBack(this.buffer.takeAll(), performance.now());
    try {
      await this.waitForRunning();
    } finally {
      await this.handbackSettled();
    }
  }

  /** Waits for the hand-backs, at most until the shutdown deadline or an abort. */
  private async handbackSettled(): Promise<void> {
    const deadline =
      this.recordingDeadline ?? Date.now() + this.options.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.handback.settled(),
      this.abortSignal,
      new Promise<void>(
        (resolve) =>
          (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))),
      ),
    ]);
    clearTimeout(timer);
  }

  private async waitForRunning(): Promise<void> {
    const allDone = () =>
      Promise.all([...this.running.values()].map((entry) => entry.done));
    if (!this.stopping) await Promise.race([allDone(), this.stopSignal]);
    if (this.running.size === 0) return;
    const deadline = (this.recordingDeadline ??=
      Date.now() + this.options.shutdownTimeoutMs);
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
          Math.max(0, deadline - Date.now()),
        )),
    );
    const finished = allDone().then(() => 'done' as const);
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
    const entries = [...this.running.values()].filter((entry) => !entry.lost);
    this.running.clear();
    this.executingCount = 0;
    this.logger.warn(TaskMessages.interrupted(entries.length));
    const unrecorded: string[] = [];
    await Promise.all(
      entries.map(async (entry) => {
        entry.stop.abort(
          new TaskInterruptedError(
            TaskMessages.workerShuttingDown(this.workerId),
          ),
        );
        const verdict = attemptInterrupted(
          entry.result,
          TaskMessages.workerStoppedTask(this.workerId),
        );
        if (!(await this.attempts.record(entry, verdict)))
          unrecorded.push(entry.result.id);
      }),
    );
    if (unrecorded.length)
      this.logger.error(TaskMessages.outcomesNotRecorded(unrecorded));
  }
}
