/** What the bench asks of a worker process (IPC). */
export type ParentMessage =
  /** Start consuming; answered by `started`. */
  | { type: 'start' }
  /** Report the resident set size; answered by `rss`. */
  | { type: 'rss' };

/** What a worker process tells the bench (IPC). */
export type ChildMessage =
  /** Booted (modules loaded, application or connections set up), not consuming yet. */
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'rss'; bytes: number }
  /** A pickup task started this long after its enqueue call began. */
  | { type: 'pickup'; latencyMs: number }
  | { type: 'error'; message: string };

/** The worker settings every system's worker process uses. */
export const WORKER_CONCURRENCY = 10;
/** Polling interval where a system lets it be chosen (pg-boss: its minimum, 500). */
export const POLL_INTERVAL_MS = 50;
