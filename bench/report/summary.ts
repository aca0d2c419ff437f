import type {
  LatencySample,
  MemorySample,
  Sample,
  ScaleSample,
  ThroughputSample,
} from '../phases/phase.js';
import type { Figure } from '../runner.js';
import { median, percentile } from '../stats.js';

/** A figure, or the time limit as a lower bound when a run overran it. */
export interface Bounded {
  value: number;
  lowerBound: boolean;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface IdleRss {
  emptyBytes: number;
  deferredBytes: number;
}

function samplesOf<S extends Sample>(figure: Figure, metric: S['metric']): S[] {
  return figure.samples.filter((s): s is S => s.metric === metric);
}

function percentilesOf(samplesMs: readonly number[]): Percentiles {
  return {
    p50: percentile(samplesMs, 50),
    p95: percentile(samplesMs, 95),
    p99: percentile(samplesMs, 99),
  };
}

/** The median time of a throughput figure; null when no run finished. */
export function medianTime(figure: Figure): Bounded | null {
  if (figure.timedOutMs !== null)
    return { value: figure.timedOutMs, lowerBound: true };
  const runs = samplesOf<ThroughputSample>(figure, 'throughput');
  if (runs.length === 0) return null;
  return { value: median(runs.map((s) => s.ms)), lowerBound: false };
}

/** Each percentile's median over the runs; null when no run finished. */
export function latency(figure: Figure): Percentiles | null {
  const runs = samplesOf<LatencySample>(figure, 'latency').map((s) =>
    percentilesOf(s.samplesMs),
  );
  if (runs.length === 0 || figure.timedOutMs !== null) return null;
  return {
    p50: median(runs.map((r) => r.p50)),
    p95: median(runs.map((r) => r.p95)),
    p99: median(runs.map((r) => r.p99)),
  };
}

/** Both RSS figures' medians over the runs; null when no run finished. */
export function idleRss(figure: Figure): IdleRss | null {
  const runs = samplesOf<MemorySample>(figure, 'memory');
  if (runs.length === 0 || figure.timedOutMs !== null) return null;
  return {
    emptyBytes: median(runs.map((s) => s.emptyRssBytes)),
    deferredBytes: median(runs.map((s) => s.deferredRssBytes)),
  };
}

/**
 * The scale phase's figures, each drain also as its throughput over the
 * empty-table drain's (the median of each over the runs); null when no
 * run finished.
 */
export interface ScaleSummary {
  emptyMs: number;
  deferred: { ms: number; throughputRatio: number };
  finished: { ms: number; throughputRatio: number };
  statusMs: number;
  duringPrune: { ms: number; throughputRatio: number };
  prune: { ms: number; rows: number };
}

export function scaleFigures(figure: Figure): ScaleSummary | null {
  const runs = samplesOf<ScaleSample>(figure, 'scale');
  if (runs.length === 0 || figure.timedOutMs !== null) return null;
  const of = (pick: (s: ScaleSample) => number) => median(runs.map(pick));
  const drain = (pick: (s: ScaleSample) => number) => ({
    ms: of(pick),
    throughputRatio: of((s) => s.emptyMs / pick(s)),
  });
  return {
    emptyMs: of((s) => s.emptyMs),
    deferred: drain((s) => s.deferredMs),
    finished: drain((s) => s.finishedMs),
    statusMs: of((s) => s.statusMs),
    duringPrune: drain((s) => s.pruneDrainMs),
    prune: { ms: of((s) => s.pruneMs), rows: of((s) => s.pruned) },
  };
}

/** The figure's headline numbers, for the JSON results. */
export function summarize(
  figure: Figure,
): Bounded | Percentiles | IdleRss | ScaleSummary | null {
  switch (figure.metric) {
    case 'throughput':
      return medianTime(figure);
    case 'latency':
      return latency(figure);
    case 'memory':
      return idleRss(figure);
    case 'scale':
      return scaleFigures(figure);
  }
}

export function megabytes(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** One line for the progress log. */
export function describeSample(sample: Sample): string {
  switch (sample.metric) {
    case 'throughput':
      return `${sample.ms.toFixed(0)} ms`;
    case 'latency': {
      const { p50, p95, p99 } = percentilesOf(sample.samplesMs);
      return `p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`;
    }
    case 'memory':
      return `RSS ${megabytes(sample.emptyRssBytes)} MB empty, ${megabytes(sample.deferredRssBytes)} MB with deferred tasks (inserted in ${(sample.insertMs / 1000).toFixed(1)} s)`;
    case 'scale':
      return (
        `drains: ${sample.emptyMs.toFixed(0)} ms empty, ${sample.deferredMs.toFixed(0)} ms beside deferred tasks, ` +
        `${sample.finishedMs.toFixed(0)} ms beside finished results, ${sample.pruneDrainMs.toFixed(0)} ms during a prune; ` +
        `status ${sample.statusMs.toFixed(0)} ms; pruned ${sample.pruned} in ${(sample.pruneMs / 1000).toFixed(1)} s; ` +
        `filled in ${(sample.fillMs.deferred / 1000).toFixed(1)} s and ${(sample.fillMs.finished / 1000).toFixed(1)} s`
      );
  }
}
