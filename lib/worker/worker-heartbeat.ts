import type { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type {
  HeartbeatReport,
  HeldTask,
  WorkerQueue,
} from '../backends/worker-queue.js';
import { TaskMessages } from '../tasks.messages.js';
import type { OutageLog } from './outage-log.js';

/**
 * A worker's heartbeat, every third of the lease: proves the worker alive,
 * learns which tasks it lost and which were cancelled, hands back tasks marked as its own that it
 * does not hold (only while no claim of its own is on its way, whose tasks
 * it could not know yet), and rescues the tasks of workers that are
 * gone — but only once this worker has itself heartbeated without a failure
 * for a whole lease. A worker that just regained the store never rescues at
 * once: the others get a lease to renew theirs first.
 */
export class WorkerHeartbeat {
  /** Since when heartbeats have succeeded without a failure (monotonic ms); a new worker counts as steady. */
  private steadySince = -Infinity;
  private lastBeat = performance.now();
  private beating: Promise<void> | null = null;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly queue: WorkerQueue,
    private readonly workerId: string,
    private readonly logger: Logger,
    private readonly outage: OutageLog,
    /** The tasks the worker holds now. */
    private readonly held: () => HeldTask[],
    /** Called for each held attempt the store no longer holds for this worker, with when the beat looked at what it held. */
    private readonly onLost: (task: HeldTask, since: number) => void,
    /** Called, likewise, for each held attempt whose result's cancel was requested. */
    private readonly onCancelled: (task: HeldTask, since: number) => void,
    /** Whether a claim of the worker is on its way (its tasks are held in the store, not yet here). */
    private readonly claiming: () => boolean,
  ) {}

  get intervalMs(): number {
    return Math.max(50, Math.floor(this.queue.leaseMs / 3));
  }

  /** Beats once now, then every interval until `stop()`. */
  async start(): Promise<void> {
    this.lastBeat = performance.now();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    await this.beat();
  }

  /** Stops beating, once a beat in flight has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
  }

  /** One beat; skipped while the previous one still runs. */
  beat(): Promise<void> {
    this.beating ??= this.heartbeatAndRescue().finally(
      () => (this.beating = null),
    );
    return this.beating;
  }

  private async heartbeatAndRescue(): Promise<void> {
    const begun = performance.now();
    const silentMs = begun - this.lastBeat;
    this.lastBeat = begun;
    if (silentMs > this.queue.leaseMs) {
      this.logger.warn(
        TaskMessages.workerPaused(this.workerId, silentMs, this.queue.leaseMs),
      );
    }
    const since = performance.now();
    const held = this.held();
    let report: HeartbeatReport;
    try {
      const answer = await this.queue.heartbeat(this.workerId, held);
      report = Array.isArray(answer) ? { lost: answer, cancelled: [] } : answer;
      this.outage.answered();
    } catch (error) {
      this.outage.failed('heartbeat', error);
      this.steadySince = performance.now();
      return;
    }
    const lost = new Set(report.lost);
    const cancelled = new Set(report.cancelled);
    for (const task of held) {
      if (lost.has(task.id)) this.onLost(task, since);
      else if (cancelled.has(task.id)) this.onCancelled(task, since);
    }
    try {
      if (this.queue.recoverOrphans && !this.claiming())
        await this.queue.recoverOrphans(this.workerId, this.held());
    } catch (error) {
      this.outage.failed('heartbeat', error);
    }
    if (performance.now() - this.steadySince < this.queue.leaseMs) return;
    try {
      await this.queue.rescueExpired(this.workerId);
    } catch (error) {
      this.outage.failed('rescuing tasks', error);
    }
  }
}
