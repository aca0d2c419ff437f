import type { EntityManager } from 'typeorm';
import type { TaskSchedule } from '../task/task-schedule.js';
import { TaskMessages } from '../tasks.messages.js';
import type { OutageLog } from './outage-log.js';

/** The longest a scheduler sleeps at once (timers take at most about 24 days); it then looks again. */
const MAX_SLEEP_MS = 60 * 60 * 1000;
/** The shortest wait before a failed claim is tried again. */
const MIN_RETRY_MS = 100;

/** A periodic task a worker enqueues at each tick of its schedule. */
export interface PeriodicTask {
  name: string;
  schedule: TaskSchedule;
  /** Enqueues the run of one tick, in `transaction` when given. */
  enqueue(tick: Date, transaction: EntityManager | null): Promise<void>;
}

/** The periodic tasks a worker enqueues, and how it makes sure each tick is enqueued once. */
export interface PeriodicTasks {
  tasks: readonly PeriodicTask[];
  /**
   * Enqueues the tick `tick` of `task` unless it, or a later tick, was
   * taken already (by any worker the store can tell of); resolves with
   * whether this call enqueued it.
   */
  claim(task: PeriodicTask, tick: Date): Promise<boolean>;
}

/** One periodic task's state in a scheduler. */
interface Entry {
  task: PeriodicTask;
  /** The latest tick this scheduler has settled (enqueued, or found taken), epoch ms. */
  settled: number;
  /** The last attempt failed: try again soon rather than at the next tick. */
  failed: boolean;
}

/**
 * Enqueues periodic tasks at their ticks on behalf of a worker, however
 * many workers do the same: each tick is claimed (`PeriodicTasks.claim`)
 * and only the claim that wins enqueues it. When it starts, it claims each
 * task's latest tick that is due, so after downtime one missed tick, the
 * latest, is caught up, never more. A failed claim is retried every
 * `retryMs` until its tick is settled or a later one falls due.
 */
export class TickScheduler {
  private readonly entries: Entry[];
  private stopping = false;
  private loops: Promise<void>[] = [];
  private stopRequested: () => void = () => {};
  private readonly stopSignal = new Promise<void>(
    (resolve) => (this.stopRequested = resolve),
  );

  constructor(
    private readonly periodic: PeriodicTasks,
    private readonly retryMs: number,
    private readonly outage: OutageLog,
  ) {
    this.entries = periodic.tasks.map((task) => ({
      task,
      settled: -Infinity,
      failed: false,
    }));
  }

  /** Claims what is due now (the catch-up), then keeps claiming each tick until stopped. */
  async start(): Promise<void> {
    if (this.stopping) return;
    await Promise.all(this.entries.map((entry) => this.claimDue(entry)));
    this.loops = this.entries.map((entry) => this.keepClaiming(entry));
  }

  /** Schedules nothing more; `settled()` resolves once a claim under way has ended. */
  stop(): void {
    this.stopping = true;
    this.stopRequested();
  }

  async settled(): Promise<void> {
    await Promise.all(this.loops);
  }

  private async keepClaiming(entry: Entry): Promise<void> {
    while (!this.stopping) {
      const now = Date.now();
      const next = entry.task.schedule.nextTick(new Date(now));
      if (next === null && !entry.failed) return;
      const untilNext = next === null ? Infinity : next.getTime() - now;
      await this.sleep(
        Math.min(
          untilNext,
          entry.failed ? Math.max(this.retryMs, MIN_RETRY_MS) : MAX_SLEEP_MS,
        ),
      );
      if (!this.stopping) await this.claimDue(entry);
    }
  }

  /** Claims the latest tick that is due, unless it is settled already. */
  private async claimDue(entry: Entry): Promise<void> {
    const due = entry.task.schedule.latestTick(new Date());
    if (due === null || due.getTime() <= entry.settled) {
      entry.failed = false;
      return;
    }
    try {
      await this.periodic.claim(entry.task, due);
      entry.settled = due.getTime();
      entry.failed = false;
      this.outage.answered();
    } catch (error) {
      entry.failed = true;
      this.outage.failed(
        TaskMessages.enqueueingTick(entry.task.name, due),
        error,
      );
    }
  }

  private async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.stopSignal,
      new Promise<void>(
        (resolve) => (timer = setTimeout(resolve, Math.max(0, ms))),
      ),
    ]);
    clearTimeout(timer);
  }
}
