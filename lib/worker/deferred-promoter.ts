import type { WorkerQueue } from '../backends/worker-queue.js';
import type { OutageLog } from './outage-log.js';

/** Deferred tasks one call makes claimable at most: a short statement, whatever falls due at once. */
const PROMOTION_BATCH = 1000;

/**
 * The least time between two passes (unless the polling interval is
 * shorter): deferred tasks falling due closer together are promoted
 * together, so a stream of them costs each worker a few statements a
 * second at most.
 */
const MIN_PASS_GAP_MS = 50;

/**
 * Makes a worker's deferred tasks claimable once due
 * (`WorkerQueue.promoteDue`), beside its claims, never in their way: a pass
 * once per polling interval, and one when the first deferred task it knows
 * of falls due, as the last pass read it or as it heard since (a retry it
 * recorded, an enqueue it was told of). A pass repeats its call while full
 * batches come back, and wakes the worker (`onPromoted`) when tasks became
 * claimable.
 */
export class DeferredPromoter {
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (epoch ms); Infinity when none is set. */
  private timerAt = Infinity;
  /** The passes, one after another. */
  private chain: Promise<unknown> = Promise.resolve();
  /** A pass is under way. */
  private passing = false;
  /** The earliest due time heard of while a pass was under way (it may have missed it). */
  private heardDuringPass = Infinity;
  /** When the last pass ended (epoch ms). */
  private lastPassEnd = -Infinity;
  private stopping = false;
  /** How many calls made tasks claimable so far. */
  private promotionCount = 0;

  constructor(
    private readonly queue: Pick<Required<WorkerQueue>, 'promoteDue'>,
    private readonly intervalMs: number,
    private readonly outage: OutageLog,
    private readonly onPromoted: () => void,
  ) {}

  /** How many calls made tasks claimable so far: a change tells a worker that tasks became claimable since. */
  get promotions(): number {
    return this.promotionCount;
  }

  /** Starts with a pass at once. */
  start(): void {
    this.arm(Date.now());
  }

  /** Runs no more passes; `settled()` resolves once the one under way has ended. */
  stop(): void {
    this.stopping = true;
    clearTimeout(this.timer);
    this.timerAt = Infinity;
  }

  async settled(): Promise<void> {
    await this.chain;
  }

  /** A deferred task falls due at `dueAt` (epoch ms): a pass then, or as soon as passes may follow each other. */
  expect(dueAt: number): void {
    if (this.stopping) return;
    if (this.passing)
      this.heardDuringPass = Math.min(this.heardDuringPass, dueAt);
    else this.arm(Math.max(dueAt, this.lastPassEnd + this.gapMs));
  }

  /** Runs a pass now, after any under way; resolves once it has ended. */
  passNow(): Promise<void> {
    return this.pass();
  }

  private get gapMs(): number {
    return Math.min(MIN_PASS_GAP_MS, this.intervalMs);
  }

  /** Sets the timer to `at` (epoch ms), unless it fires sooner already. */
  private arm(at: number): void {
    if (this.stopping || at >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timerAt = Infinity;
        void this.pass();
      },
      Math.max(0, at - Date.now()),
    );
  }

  /** Queues a pass after those under way. */
  private pass(): Promise<void> {
    const pass = this.chain.then(() => this.promote());
    this.chain = pass.catch(() => undefined);
    return pass;
  }

  /** Promotes what is due, batch after batch; then sets the timer for the next pass. */
  private async promote(): Promise<void> {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timerAt = Infinity;
    this.passing = true;
    this.heardDuringPass = Infinity;
    const begun = Date.now();
    let nextDue = Infinity;
    try {
      for (;;) {
        const { promoted, nextDueAt } =
          await this.queue.promoteDue(PROMOTION_BATCH);
        this.outage.answered();
        if (promoted > 0) {
          this.promotionCount++;
          this.onPromoted();
        }
        nextDue = nextDueAt ?? Infinity;
        if (promoted < PROMOTION_BATCH || this.stopping) break;
      }
    } catch (error) {
      this.outage.failed('promoting deferred tasks', error);
    } finally {
      this.passing = false;
      this.lastPassEnd = Date.now();
    }
    // A next due time before the pass began: rows it should have promoted
    // are held by another transaction (another worker's pass, a lock), whose
    // end makes them READY or hands them back; looked at again a polling
    // interval later, not in a loop. One that fell due while the pass ran:
    // looked at again soon.
    const held = nextDue <= begun;
    const next = Math.min(
      begun + this.intervalMs,
      held ? Infinity : nextDue,
      this.heardDuringPass,
    );
    this.arm(Math.max(next, this.lastPassEnd + this.gapMs));
  }
}
