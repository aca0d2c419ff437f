/**
 * Lets a worker sleep until woken (a new task, a free slot, a stop) or a
 * timeout passes. A wake-up that comes while it is not sleeping is kept, so
 * the next sleep returns at once and no wake-up is lost.
 */
export class WakeSignal {
  private pending = false;
  private wakeSleeper: (() => void) | null = null;

  wake(): void {
    if (this.wakeSleeper) this.wakeSleeper();
    else this.pending = true;
  }

  /** Resolves on the next wake-up, or after `timeoutMs`. */
  sleep(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.wakeSleeper = done;
    });
  }
}
