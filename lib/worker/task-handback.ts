import type { Logger } from '@nestjs/common';
import type { HeldTask, WorkerQueue } from '../backends/worker-queue.js';
import { TaskMessages } from '../tasks.messages.js';

/** The longest wait between two tries at handing tasks back. */
const MAX_BACKOFF_MS = 2000;

/**
 * Hands claimed tasks that never started back to the queue. Until the queue
 * has taken them they stay held by the worker (its heartbeat renews their
 * leases), so a failed hand-back never turns them into interrupted
 * attempts: it is retried with backoff until `giveUp()` says so.
 */
export class TaskHandback {
  private pending: { task: HeldTask; since: number }[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly queue: WorkerQueue,
    private readonly workerId: string,
    private readonly logger: Logger,
    /** True once retrying is pointless (the shutdown deadline passed). */
    private readonly giveUp: () => boolean,
  ) {}

  /** The tasks being handed back, which the worker still holds. */
  held(): HeldTask[] {
    return this.pending.map(({ task }) => task);
  }

  /** Forgets a task whose claim was lost (reported about a claim held since `since` or earlier); whether it was here. */
  drop({ id, attempt }: HeldTask, since: number): boolean {
    const index = this.pending.findIndex(
      (entry) =>
        entry.task.id === id &&
        entry.task.attempt === attempt &&
        entry.since <= since,
    );
    if (index < 0) return false;
    this.pending.splice(index, 1);
    return true;
  }

  /** Starts handing `tasks` back (claimed at `since`, monotonic ms); does not wait. */
  handBack(tasks: readonly HeldTask[], since: number): void {
    if (tasks.length === 0 || !this.queue.release) return;
    const entries = tasks.map((task) => ({ task, since }));
    this.pending.push(...entries);
    const attempt = this.untilTaken(entries).finally(() =>
      this.inFlight.delete(attempt),
    );
    this.inFlight.add(attempt);
  }

  /** Resolves when every hand-back started so far has ended (taken, or given up). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async untilTaken(
    entries: { task: HeldTask; since: number }[],
  ): Promise<void> {
    for (let failures = 0; ; failures++) {
      const left = entries.filter((entry) => this.pending.includes(entry));
      if (left.length === 0) return;
      try {
        await this.queue.release!(
          this.workerId,
          left.map((entry) => entry.task),
        );
        this.forget(left);
        return;
      } catch (error) {
        if (this.giveUp()) {
          this.forget(left);
          this.logger.warn(
            TaskMessages.releaseFailed(
              left.map((entry) => entry.task.id),
              error,
            ),
          );
          return;
        }
        const delay = Math.min(50 * 2 ** failures, MAX_BACKOFF_MS);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private forget(entries: { task: HeldTask; since: number }[]): void {
    this.pending = this.pending.filter((entry) => !entries.includes(entry));
  }
}
