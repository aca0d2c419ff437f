/** Weight of the newest sample in the running averages. */
const SMOOTHING = 0.2;

const average = (previous: number | null, sample: number) =>
  previous === null ? sample : previous + SMOOTHING * (sample - previous);

/**
 * How many claimed tasks a worker keeps ready beyond its free slots: enough
 * for its slots to go on while the next claim travels to the store and
 * back, at the rate its tasks end (twice that, for the spread of both).
 * Short tasks get large claims, so that each round trip carries many; tasks
 * that run longer than a claim takes get none kept waiting, so that an idle
 * worker elsewhere takes them instead. Never more than `max`; none until
 * both are measured.
 */
export class PrefetchGauge {
  private taskMs: number | null = null;
  private claimMs: number | null = null;

  constructor(
    private readonly concurrency: number,
    private readonly max: number,
  ) {}

  /** An attempt's code ran this long. */
  taskEnded(ms: number): void {
    this.taskMs = average(this.taskMs, ms);
  }

  /** A claim that returned tasks took this long. */
  claimAnswered(ms: number): void {
    this.claimMs = average(this.claimMs, ms);
  }

  /**
   * How many tasks to keep ready now, given how long the oldest running
   * attempt has run: tasks take at least that long when it is longer than
   * they used to.
   */
  target(oldestRunningMs: number): number {
    if (this.max === 0 || this.taskMs === null || this.claimMs === null)
      return 0;
    const taskMs = Math.max(this.taskMs, oldestRunningMs, 0.01);
    const endedPerClaim = (this.concurrency * this.claimMs) / taskMs;
    return Math.min(this.max, Math.floor(2 * endedPerClaim));
  }

  /** How long a claimed task may wait for a slot before it goes back: a few claims' round trips. */
  get keepMs(): number {
    return 4 * (this.claimMs ?? 0) + 20;
  }
}
