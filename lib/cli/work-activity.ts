import { TaskResultStatus } from '../task/task-result-status.js';

/** What a worker has done on one queue since it started. */
export interface QueueActivity {
  queue: string;
  /** Results finished, whatever their status. */
  processed: number;
  failed: number;
  /** Attempts started whose result has not finished (a result waiting for its retry included). */
  running: number;
  /** Results finished per second over the last few seconds. */
  perSecond: number;
}

interface QueueCounts {
  processed: number;
  failed: number;
  running: Set<string>;
  /** When recent results finished (epoch ms), oldest first. */
  recent: number[];
}

/** Counts a worker's started and finished tasks per queue, from its task events. */
export class WorkActivity {
  private readonly queues = new Map<string, QueueCounts>();

  constructor(
    /** The window the rate is measured over. */
    private readonly rateWindowMs = 10_000,
  ) {}

  started(queue: string, id: string): void {
    this.of(queue).running.add(id);
  }

  finished(
    queue: string,
    id: string,
    status: TaskResultStatus,
    now = Date.now(),
  ): void {
    const counts = this.of(queue);
    counts.running.delete(id);
    counts.processed += 1;
    if (status === TaskResultStatus.FAILED) counts.failed += 1;
    counts.recent.push(now);
  }

  /** Every queue seen, by name. */
  snapshot(now = Date.now()): QueueActivity[] {
    return [...this.queues.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([queue, counts]) => {
        const since = now - this.rateWindowMs;
        while (counts.recent.length > 0 && counts.recent[0] < since)
          counts.recent.shift();
        return {
          queue,
          processed: counts.processed,
          failed: counts.failed,
          running: counts.running.size,
          perSecond: counts.recent.length / (this.rateWindowMs / 1000),
        };
      });
  }

  private of(queue: string): QueueCounts {
    let counts = this.queues.get(queue);
    if (!counts) {
      counts = { processed: 0, failed: 0, running: new Set(), recent: [] };
      this.queues.set(queue, counts);
    }
    return counts;
  }
}

/** One line for a terminal: per queue, processed, failed, running and the rate. */
export function activityLine(queues: readonly QueueActivity[]): string {
  if (queues.length === 0) return 'waiting for tasks…';
  return queues
    .map(
      (q) =>
        `${q.queue}: ${q.processed} processed, ${q.failed} failed, ${q.running} running, ${q.perSecond.toFixed(1)}/s`,
    )
    .join(' · ');
}
