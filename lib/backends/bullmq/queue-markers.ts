/** A marker BullMQ left on a queue: `score` 0 when jobs wait, else when the next delayed job falls due (epoch ms). */
export interface Marker {
  score: number;
}

/** A worker of this process listening to a queue. */
export interface MarkerListener {
  onWake(): void;
  /** Whether it would claim now (it has free slots and is not stopping). */
  wantsWork(): boolean;
}

/** How a queue's markers are reached: BullMQ's blocking wait and a marker put back. */
export interface MarkerSource {
  /** Waits up to `seconds` for a marker and takes it; null when none came. */
  take(seconds: number): Promise<Marker | null>;
  /** Sets the marker that wakes the next waiting worker of any process. */
  putBack(): Promise<void>;
}

/** How long one wait for a marker blocks (the loop checks whether anyone still listens in between). */
const WAIT_SECONDS = 5;
/** After a failed wait (Redis unreachable), how long before the next. */
const RETRY_MS = 1000;
/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** After taking a marker, how long the watch waits for this process to claim from the queue before it takes the next. */
const CLAIM_WAIT_MS = 1000;

/**
 * Wakes this process's workers of one BullMQ queue the way BullMQ's own
 * workers wake: by taking the queue's marker with a blocking wait (one
 * connection per queue and process) instead of reading every event of the
 * queue. BullMQ sets the marker when jobs are enqueued or put back, when
 * delayed ones fall due, and at each job a worker takes (so that the next
 * idle worker wakes while jobs remain). A marker wakes one process: the
 * one that took it, when one of its workers wants work; else it is put
 * back for a worker of another process. After taking one, the watch waits
 * for this process to claim from the queue before it takes the next, so
 * that a busy process leaves them to idle ones.
 */
export class QueueMarkers {
  private readonly listeners = new Set<MarkerListener>();
  private watching = false;
  private claimSeen: (() => void) | null = null;
  private dueTimer: { at: number; timer: NodeJS.Timeout } | null = null;

  constructor(private readonly source: MarkerSource) {}

  /** Starts waking `listener`; returns the function that stops it. */
  listen(listener: MarkerListener): () => void {
    this.listeners.add(listener);
    if (!this.watching) void this.watch();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** This process claimed from the queue: the watch may take the next marker. */
  claimed(): void {
    this.claimSeen?.();
  }

  private async watch(): Promise<void> {
    this.watching = true;
    try {
      while (this.listeners.size > 0) {
        let marker: Marker | null;
        const began = performance.now();
        try {
          marker = await this.source.take(WAIT_SECONDS);
        } catch {
          await delay(RETRY_MS);
          continue;
        }
        if (!marker) {
          // A wait that ends early without a marker is no wait (a closed connection): never a busy loop.
          if (performance.now() - began < (WAIT_SECONDS * 1000) / 2)
            await delay(RETRY_MS);
          continue;
        }
        if (marker.score > Date.now()) {
          this.wakeAt(marker.score);
          continue;
        }
        this.deliver();
        await this.nextClaim();
      }
    } finally {
      this.watching = false;
    }
  }

  /** Wakes the listeners that want work, or puts the marker back for another process when none does. */
  private deliver(): void {
    const wanting = [...this.listeners].filter((listener) =>
      listener.wantsWork(),
    );
    for (const listener of wanting) listener.onWake();
    if (wanting.length === 0) this.source.putBack().catch(() => undefined);
  }

  /**
   * Delayed jobs fall due at `at`: the listeners that want work are woken
   * then (their claim promotes the jobs), or the marker is put back for
   * another process, even when no one here listens any more.
   */
  private wakeAt(at: number): void {
    if (this.dueTimer && this.dueTimer.at <= at) return;
    if (this.dueTimer) clearTimeout(this.dueTimer.timer);
    const timer = setTimeout(
      () => {
        this.dueTimer = null;
        this.deliver();
      },
      Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS),
    );
    timer.unref();
    this.dueTimer = { at, timer };
  }

  /** Resolves at this process's next claim from the queue, or after CLAIM_WAIT_MS. */
  private nextClaim(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.claimSeen = null;
        resolve();
      };
      const timer = setTimeout(done, CLAIM_WAIT_MS);
      this.claimSeen = done;
    });
  }
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));
