import type { ClaimedTask, HeldTask } from '../backends/worker-queue.js';
import { PrefetchGauge } from './prefetch-gauge.js';

/** What the store holds of a claimed task: its id and the attempt the claim started. */
export const heldOf = ({ result }: ClaimedTask): HeldTask => ({
  id: result.id,
  attempt: result.attempts,
});

/** A claimed task waiting for a slot. */
export interface Buffered {
  task: ClaimedTask;
  /** When its claim arrived (monotonic ms). */
  at: number;
}

/**
 * The tasks a worker claimed and has not started yet, best first, and how
 * many it should keep (its `PrefetchGauge`). A task kept longer than a few
 * claims' round trips is stale: the worker's slots are taken by tasks that
 * run longer than expected, and the task goes back to the store for an idle
 * worker to take.
 */
export class ClaimBuffer {
  private tasks: Buffered[] = [];
  readonly gauge: PrefetchGauge;

  constructor(concurrency: number, maxPrefetch: number) {
    this.gauge = new PrefetchGauge(concurrency, maxPrefetch);
  }

  get size(): number {
    return this.tasks.length;
  }

  /**
   * Adds the tasks of a claim (best first): each goes after the tasks kept
   * of the same or a higher priority, before those of a lower one.
   */
  add(claimed: readonly ClaimedTask[]): void {
    const at = performance.now();
    for (const task of claimed) {
      const priority = task.result.task.priority;
      let index = this.tasks.length;
      while (
        index > 0 &&
        this.tasks[index - 1].task.result.task.priority < priority
      )
        index--;
      this.tasks.splice(index, 0, { task, at });
    }
  }

  /** The next task to start, if any. */
  take(): Buffered | undefined {
    return this.tasks.shift();
  }

  /** Every buffered task, as the store holds it. */
  held(): HeldTask[] {
    return this.tasks.map(({ task }) => heldOf(task));
  }

  /** Forgets the task of this attempt, if claimed at `since` or earlier (its claim was lost); whether it was here. */
  drop({ id, attempt }: HeldTask, since: number): boolean {
    const index = this.tasks.findIndex(
      ({ task, at }) =>
        task.result.id === id &&
        task.result.attempts === attempt &&
        at <= since,
    );
    if (index < 0) return false;
    this.tasks.splice(index, 1);
    return true;
  }

  /** Removes and returns every task. */
  takeAll(): HeldTask[] {
    const all = this.held();
    this.tasks = [];
    return all;
  }

  /** Removes and returns the stale tasks. */
  takeStale(): HeldTask[] {
    const since = performance.now() - this.gauge.keepMs;
    const stale = this.tasks.filter(({ at }) => at < since);
    if (stale.length === 0) return [];
    this.tasks = this.tasks.filter(({ at }) => at >= since);
    return stale.map(({ task }) => heldOf(task));
  }

  /** In how many ms the oldest task turns stale (Infinity when empty). */
  msUntilStale(): number {
    if (this.tasks.length === 0) return Infinity;
    return Math.max(
      0,
      this.tasks[0].at + this.gauge.keepMs - performance.now(),
    );
  }
}
