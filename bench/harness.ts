/** What every system under measurement offers the harness. */
export interface BenchSystem {
  /** Shown in the table and used by `--systems`. */
  readonly name: string;
  /** Creates the system's own database objects and connections. */
  open(): Promise<void>;
  /** Empties the store between measurements (untimed). */
  reset(): Promise<void>;
  /** Enqueues `n` no-op tasks, awaiting each call before the next. */
  enqueueOne(n: number, deadline: AbortSignal): Promise<void>;
  /** Enqueues `n` no-op tasks through the bulk API, `chunk` per call. */
  enqueueBulk(n: number, chunk: number, deadline: AbortSignal): Promise<void>;
  /**
   * Starts one worker at concurrency 10 on the tasks already queued and
   * resolves once the store reports all of them complete.
   */
  drain(n: number, deadline: AbortSignal): Promise<void>;
  /** Stops the worker if one still runs (after a drain or a timeout). */
  stopWorker(): Promise<void>;
  /** Drops the system's database objects and closes its connections. */
  close(): Promise<void>;
}

/** One timed phase: `prepare` and `measure` both run under the same time limit. */
export interface Phase {
  readonly name: string;
  prepare(system: BenchSystem, n: number, deadline: AbortSignal): Promise<void>;
  measure(system: BenchSystem, n: number, deadline: AbortSignal): Promise<void>;
}

export const BULK_CHUNK = 1_000;

export const PHASES: readonly Phase[] = [
  {
    name: 'enqueue (one at a time)',
    prepare: (system) => system.reset(),
    measure: (system, n, deadline) => system.enqueueOne(n, deadline),
  },
  {
    name: `enqueue (bulk, ${BULK_CHUNK}/call)`,
    prepare: (system) => system.reset(),
    measure: (system, n, deadline) =>
      system.enqueueBulk(n, BULK_CHUNK, deadline),
  },
  {
    name: 'drain (1 worker, concurrency 10)',
    prepare: async (system, n, deadline) => {
      await system.reset();
      await system.enqueueBulk(n, BULK_CHUNK, deadline);
    },
    measure: (system, n, deadline) => system.drain(n, deadline),
  },
];

export class PhaseTimeoutError extends Error {
  constructor(phase: string, system: string, limitMs: number) {
    super(`${system}: ${phase} did not finish within ${limitMs} ms`);
  }
}

/**
 * Runs `prepare`, then times `measure`; both together are bounded by
 * `limitMs`. Returns the measured milliseconds; on overrun the work is told
 * to stop, awaited, and `PhaseTimeoutError` thrown.
 */
export async function timePhase(
  phase: Phase,
  system: BenchSystem,
  n: number,
  limitMs: number,
): Promise<number> {
  const controller = new AbortController();
  const work = (async () => {
    await phase.prepare(system, n, controller.signal);
    const started = process.hrtime.bigint();
    await phase.measure(system, n, controller.signal);
    if (controller.signal.aborted)
      throw new PhaseTimeoutError(phase.name, system.name, limitMs);
    return Number(process.hrtime.bigint() - started) / 1e6;
  })();
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<'overrun'>((resolve) => {
    timer = setTimeout(() => resolve('overrun'), limitMs);
  });
  try {
    const outcome = await Promise.race([work, overrun]);
    if (outcome === 'overrun') {
      controller.abort();
      await work.catch(() => undefined);
      throw new PhaseTimeoutError(phase.name, system.name, limitMs);
    }
    return outcome;
  } finally {
    clearTimeout(timer);
    controller.abort();
    await system.stopWorker();
  }
}

/** Throws once the phase's time is up, so that loops of calls stop. */
export function checkDeadline(deadline: AbortSignal): void {
  if (deadline.aborted) throw new Error('phase time limit reached');
}

/** Polls `remaining` until it reports 0, or the deadline passes. */
export async function waitUntilDone(
  remaining: () => Promise<number>,
  deadline: AbortSignal,
  intervalMs = 10,
): Promise<void> {
  while (!deadline.aborted) {
    if ((await remaining()) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `[0, 1, …, n - 1]` in chunks of `size`. */
export function* chunks(n: number, size: number): Generator<number[]> {
  for (let start = 0; start < n; start += size) {
    const end = Math.min(n, start + size);
    yield Array.from({ length: end - start }, (_, i) => start + i);
  }
}
