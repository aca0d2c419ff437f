import type { OutageLog } from './outage-log.js';
import { WakeSignal } from './wake-signal.js';

/** The shortest time between two sweeps, however short the polling interval. */
const MIN_SWEEP_INTERVAL_MS = 1000;

/**
 * Relays, on behalf of a worker, the enqueues its backend's outbox holds
 * that no process relayed after their commit: once when the worker starts,
 * then every polling interval (at least a second) until it stops. A sweep
 * that fails is logged once per outage and tried again at the next.
 */
export class OutboxSweeper {
  private stopping = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly wakeSignal = new WakeSignal();

  constructor(
    /** One sweep (see `TaskOutbox.sweep`); null when the backend has no outbox. */
    private readonly sweep: (() => Promise<number>) | null,
    private readonly intervalMs: number,
    private readonly outage: OutageLog,
  ) {}

  /** Sweeps now, then keeps sweeping until stopped. */
  async start(): Promise<void> {
    if (!this.sweep || this.stopping) return;
    await this.sweepOnce(this.sweep);
    this.loop = this.keepSweeping(this.sweep);
  }

  /** Sweeps no more; `settled()` resolves once a sweep under way has ended. */
  stop(): void {
    this.stopping = true;
    this.wakeSignal.wake();
  }

  settled(): Promise<void> {
    return this.loop;
  }

  private async keepSweeping(sweep: () => Promise<number>): Promise<void> {
    const interval = Math.max(this.intervalMs, MIN_SWEEP_INTERVAL_MS);
    while (!this.stopping) {
      await this.wakeSignal.sleep(interval);
      if (!this.stopping) await this.sweepOnce(sweep);
    }
  }

  private async sweepOnce(sweep: () => Promise<number>): Promise<void> {
    try {
      await sweep();
      this.outage.answered();
    } catch (error) {
      this.outage.failed('relaying its outbox', error);
    }
  }
}
