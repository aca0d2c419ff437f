import type { BenchSystem } from '../system.js';

/** Time for `n` tasks (enqueue, drain). */
export interface ThroughputSample {
  metric: 'throughput';
  ms: number;
}

/** Milliseconds from enqueue call to task start, one per pickup task. */
export interface LatencySample {
  metric: 'latency';
  samplesMs: number[];
}

/** Resident set size of an idle worker process, on an empty store and with deferred tasks. */
export interface MemorySample {
  metric: 'memory';
  emptyRssBytes: number;
  deferredRssBytes: number;
  /** How long inserting the deferred tasks took (untimed for the figures). */
  insertMs: number;
}

/**
 * A drain of N tasks on an empty table, then beside large amounts of other
 * rows, `tasks:status` on the large table, and a drain while a prune runs.
 */
export interface ScaleSample {
  metric: 'scale';
  emptyMs: number;
  /** With `deferred` tasks of a higher priority due a day later in the table. */
  deferredMs: number;
  /** With `finished` finished results in the table. */
  finishedMs: number;
  /** What `tasks:status` reads of the backend, with the finished results in the table (median of 3). */
  statusMs: number;
  /** The counts it showed. */
  statusCounts: {
    queue: string;
    status: string;
    count: number;
    precision?: string;
  }[];
  /** While a prune of the older half of the finished results runs. */
  pruneDrainMs: number;
  /** How long that prune took, and how many results it deleted. */
  pruneMs: number;
  pruned: number;
  /** How long filling the table took (untimed for the figures). */
  fillMs: { deferred: number; finished: number };
}

export type Sample =
  ThroughputSample | LatencySample | MemorySample | ScaleSample;
export type Metric = Sample['metric'];

/** The sizes a phase works with, from the command line. */
export interface PhaseSettings {
  /** Tasks of the throughput phases. */
  n: number;
  /** Pickup tasks, enqueued `pickupGapMs` apart. */
  pickupTasks: number;
  pickupGapMs: number;
  /** Tasks deferred a day ahead in the memory and scale phases. */
  deferred: number;
  /** Finished results in the table in the scale phase (the older half is pruned). */
  finished: number;
  /** How long a worker process runs idle before its RSS is read. */
  idleMs: number;
  /** How long a started worker is left alone before pickup tasks arrive. */
  settleMs: number;
}

export interface PhaseRun {
  readonly system: BenchSystem;
  /** The system's key, for messages. */
  readonly label: string;
  readonly settings: PhaseSettings;
  readonly deadline: AbortSignal;
}

export interface Phase {
  /** Matched by `--phases`. */
  readonly key: string;
  readonly title: string;
  readonly metric: Metric;
  /** Runs once per system unless `--runs` is given. */
  readonly once?: boolean;
  /** Runs only when asked for (`--scale`, or by its key): it fills tables with millions of rows. */
  readonly scale?: boolean;
  run(run: PhaseRun): Promise<Sample>;
}

/** Times `measure`. */
export async function timed(
  measure: () => Promise<void>,
): Promise<ThroughputSample> {
  const started = process.hrtime.bigint();
  await measure();
  return {
    metric: 'throughput',
    ms: Number(process.hrtime.bigint() - started) / 1e6,
  };
}
