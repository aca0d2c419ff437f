/** How to start one worker process on a system's store. */
export interface WorkerSpec {
  /** The compiled entry under `bench/workers/`. */
  readonly entry: URL;
  /** JSON settings handed to the entry (store, schema, queue names). */
  readonly config: unknown;
}

/** A finished result as the scale phase counts it: how `tasks:status` showed it. */
export interface ShownCount {
  queue: string;
  status: string;
  count: number;
  precision?: string;
}

/** What the scale phase asks of a system besides the rest: large tables, filled fast, and its own administration. */
export interface ScaleOperations {
  /** Adds `n` tasks of a higher priority than the bench's, due at `runAt`, written by the database itself. */
  fillDeferred(n: number, runAt: Date): Promise<void>;
  /**
   * Adds `n` finished results, written by the database itself: the older
   * half finished before `pruneBefore`, the rest after it.
   */
  fillFinished(n: number, pruneBefore: Date): Promise<void>;
  /**
   * Brings the table to the state it would be in after long service: its
   * statistics up to date, and what the fill left for the database to write
   * out (vacuum's, a checkpoint's work) written, so that no drain measured
   * next pays for the fill.
   */
  settle(): Promise<void>;
  /** What `tasks:status` reads of the backend. */
  status(): Promise<ShownCount[]>;
  /** What `tasks:prune` does: deletes the finished results older than `before`; returns how many. */
  prune(before: Date): Promise<number>;
}

/** What every system under measurement offers the harness. */
export interface BenchSystem {
  /** Creates the system's own database objects and connections. */
  open(): Promise<void>;
  /** Empties the store between measurements (untimed). */
  reset(): Promise<void>;
  /** Enqueues `n` no-op tasks, awaiting each call before the next. */
  enqueueOne(n: number, deadline: AbortSignal): Promise<void>;
  /** Enqueues `n` no-op tasks through the bulk API, `chunk` per call. */
  enqueueBulk(n: number, chunk: number, deadline: AbortSignal): Promise<void>;
  /** Enqueues `n` no-op tasks due at `runAt`, the fastest way the system offers. */
  enqueueDeferred(n: number, runAt: Date, deadline: AbortSignal): Promise<void>;
  /** Enqueues one task whose worker reports `enqueuedAt` when it starts it. */
  enqueuePickup(enqueuedAt: number): Promise<void>;
  /** How many tasks the store does not report complete yet. */
  remaining(): Promise<number>;
  /**
   * Whether every task is complete, asked the cheapest way the store
   * offers: the drain phases poll it every 10 ms, beside the workers.
   */
  drained(): Promise<boolean>;
  /** The worker process for this store (`bench/workers/`). */
  worker(): WorkerSpec;
  /** Drops the system's database objects and closes its connections. */
  close(): Promise<void>;
  /** The scale phase's operations, where the system offers them. */
  readonly scale?: ScaleOperations;
}

/** Tasks per call of a bulk API. */
export const BULK_CHUNK = 1_000;

/** `[0, 1, …, n - 1]` in chunks of `size`. */
export function* chunks(n: number, size: number): Generator<number[]> {
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    yield Array.from({ length: end - start }, (_, i) => start + i);
  }
}
