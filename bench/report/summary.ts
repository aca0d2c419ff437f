import type {
  LatencySample,
  MemorySample,
  Sample,
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

/** The figure's headline numbers, for the JSON results. */
export function summarize(
  figure: Figure,
): Bounded | Percentiles | IdleRss | null {
  switch (figure.metric) {
    case 'throughput':
      return medianTime(figure);
    case 'latency':
      return latency(figure);
    case 'memory':
      return idleRss(figure);
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
  }
}
