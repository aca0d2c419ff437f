import type { PhaseSettings } from '../phases/phase.js';
import type { Figure } from '../runner.js';
import type { SystemEntry } from '../systems/registry.js';
import {
  idleRss,
  latency,
  medianTime,
  megabytes,
  scaleFigures,
  type Bounded,
} from './summary.js';

/** A table of results, rendered as text or Markdown. */
export interface Table {
  title: string;
  header: string[];
  /** Columns from this index on hold numbers (aligned right). */
  numericFrom: number;
  rows: string[][];
  notes: string[];
}

function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `mine / theirs`; a lower bound on either side makes the ratio a bound. */
function ratio(mine: Bounded | null, theirs: Bounded | null): string {
  if (!mine || !theirs || (mine.lowerBound && theirs.lowerBound)) return 'n/a';
  const prefix = mine.lowerBound ? '>' : theirs.lowerBound ? '<' : '';
  const value = mine.value / theirs.value;
  // Two decimals, or two significant digits for ratios too small for them.
  return prefix + (value < 0.1 ? value.toPrecision(2) : value.toFixed(2));
}

function exact(value: number | undefined): Bounded | null {
  return value === undefined ? null : { value, lowerBound: false };
}

/** The systems every row is compared with: the peers, or all when no peer runs. */
function references(systems: readonly SystemEntry[]): string[] {
  const peers = systems.filter((s) => s.peer);
  return (peers.length > 0 ? peers : systems).map((s) => s.key);
}

function throughputTable(
  figures: Figure[],
  refs: string[],
  settings: PhaseSettings,
): Table {
  const rows = figures.map((figure) => {
    const time = medianTime(figure);
    const cells = refs.map((ref) => {
      if (ref === figure.system) return '—';
      const other = figures.find(
        (f) => f.phase === figure.phase && f.system === ref,
      );
      return ratio(time, other ? medianTime(other) : null);
    });
    return [
      figure.title,
      figure.system,
      time === null
        ? 'failed'
        : (time.lowerBound ? '>' : '') + time.value.toFixed(0),
      time === null
        ? ''
        : (time.lowerBound ? '<' : '') +
          ((settings.n * 1000) / time.value).toFixed(0),
      ...cells,
    ];
  });
  return {
    title: `Throughput (${count(settings.n)} tasks)`,
    header: [
      'phase',
      'system',
      'median ms',
      'tasks/s',
      ...refs.map((r) => `÷ ${r}`),
    ],
    numericFrom: 2,
    rows,
    notes: [
      '÷ peer: this median time over the peer’s (below 1: faster than the peer).',
      'A time shown as >t did not finish within the time limit t (ratios with it are bounds).',
    ],
  };
}

function latencyTable(
  figures: Figure[],
  refs: string[],
  settings: PhaseSettings,
): Table {
  const rows = figures.map((figure) => {
    const mine = latency(figure);
    const cells = refs.map((ref) => {
      if (ref === figure.system) return '—';
      const other = figures.find((f) => f.system === ref);
      const theirs = other ? latency(other) : null;
      return `${ratio(exact(mine?.p50), exact(theirs?.p50))} / ${ratio(exact(mine?.p99), exact(theirs?.p99))}`;
    });
    const ms = (value: number | undefined) =>
      value === undefined ? '' : value.toFixed(1);
    return [
      figure.system,
      mine ? ms(mine.p50) : figure.timedOutMs !== null ? 'timed out' : 'failed',
      ms(mine?.p95),
      ms(mine?.p99),
      ...cells,
    ];
  });
  return {
    title: `Pickup latency (${count(settings.pickupTasks)} tasks, ${settings.pickupGapMs} ms apart, idle worker process)`,
    header: [
      'system',
      'p50 ms',
      'p95 ms',
      'p99 ms',
      ...refs.map((r) => `÷ ${r}`),
    ],
    numericFrom: 1,
    rows,
    notes: [
      'From just before the enqueue call to the start of the task body in the worker process (same machine clock).',
      '÷ peer: p50 over the peer’s p50 / p99 over the peer’s p99 (below 1: picked up sooner than by the peer).',
    ],
  };
}

function memoryTable(
  figures: Figure[],
  refs: string[],
  settings: PhaseSettings,
): Table {
  const rows = figures.map((figure) => {
    const mine = idleRss(figure);
    const cells = refs.map((ref) => {
      if (ref === figure.system) return '—';
      const other = figures.find((f) => f.system === ref);
      const theirs = other ? idleRss(other) : null;
      return ratio(exact(mine?.deferredBytes), exact(theirs?.deferredBytes));
    });
    return [
      figure.system,
      mine
        ? megabytes(mine.emptyBytes)
        : figure.timedOutMs !== null
          ? 'timed out'
          : 'failed',
      mine ? megabytes(mine.deferredBytes) : '',
      mine ? (mine.deferredBytes / mine.emptyBytes).toFixed(2) : '',
      ...cells,
    ];
  });
  return {
    title: `Idle worker process memory (RSS after ${settings.idleMs / 1000} s idle)`,
    header: [
      'system',
      'RSS MB, empty store',
      `RSS MB, ${count(settings.deferred)} deferred`,
      'deferred ÷ empty',
      ...refs.map((r) => `÷ ${r}`),
    ],
    numericFrom: 1,
    rows,
    notes: [
      `Deferred: ${count(settings.deferred)} tasks due a day later, in the store before the worker starts.`,
      '÷ peer: RSS with the deferred tasks over the peer’s.',
    ],
  };
}

/** Targets of the scale phase: drain throughput over the empty table's, and `tasks:status` time. */
const SCALE_TARGETS = { beside: 0.9, duringPrune: 0.7, statusMs: 1000 };

function scaleTable(figures: Figure[], settings: PhaseSettings): Table {
  const drain = (ms: number, ratio: number) =>
    `${ms.toFixed(0)} (${ratio.toFixed(2)}×)`;
  const rows = figures.map((figure) => {
    const scale = scaleFigures(figure);
    if (!scale)
      return [
        figure.system,
        figure.timedOutMs !== null ? 'timed out' : 'failed',
        '',
        '',
        '',
        '',
        '',
      ];
    return [
      figure.system,
      scale.emptyMs.toFixed(0),
      drain(scale.deferred.ms, scale.deferred.throughputRatio),
      drain(scale.finished.ms, scale.finished.throughputRatio),
      scale.statusMs.toFixed(0),
      drain(scale.duringPrune.ms, scale.duringPrune.throughputRatio),
      `${count(scale.prune.rows)} in ${(scale.prune.ms / 1000).toFixed(0)} s`,
    ];
  });
  return {
    title: `Drains of ${count(settings.n)} tasks on large tables (1 worker process × concurrency 10)`,
    header: [
      'system',
      'empty table ms',
      `+${count(settings.deferred)} deferred ms`,
      `+${count(settings.finished)} finished ms`,
      'tasks:status ms',
      'during prune ms',
      'prune',
    ],
    numericFrom: 1,
    rows,
    notes: [
      `(r×): that drain's throughput over the empty-table drain's of the same run; targets ≥ ${SCALE_TARGETS.beside} beside deferred tasks or finished results, ≥ ${SCALE_TARGETS.duringPrune} during the prune.`,
      `Deferred: tasks of a higher priority due a day later. Finished: ${count(Math.floor(settings.finished / 2))} of them finished over a week ago, which the prune deletes in batches of 1,000 while the drain runs.`,
      `tasks:status ms: what it reads of the backend with the finished results in the table (median of 3); target under ${SCALE_TARGETS.statusMs} ms.`,
    ],
  };
}

/** The tables of the metrics that have figures: throughput, latency, memory, scale. */
export function buildTables(
  figures: Figure[],
  systems: readonly SystemEntry[],
  settings: PhaseSettings,
): Table[] {
  const refs = references(systems);
  const of = (metric: Figure['metric']) =>
    figures.filter((f) => f.metric === metric);
  const tables: Table[] = [];
  if (of('throughput').length > 0)
    tables.push(throughputTable(of('throughput'), refs, settings));
  if (of('latency').length > 0)
    tables.push(latencyTable(of('latency'), refs, settings));
  if (of('memory').length > 0)
    tables.push(memoryTable(of('memory'), refs, settings));
  if (of('scale').length > 0) tables.push(scaleTable(of('scale'), settings));
  return tables;
}
