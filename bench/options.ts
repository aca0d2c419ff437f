import { parseArgs } from 'node:util';
import { PHASES } from './phases/index.js';
import type { Phase, PhaseSettings } from './phases/phase.js';
import { selectKeys } from './select.js';
import { SYSTEMS, type SystemEntry } from './systems/registry.js';

export interface Options {
  settings: PhaseSettings;
  /** Interleaved runs of each phase; the median is reported. */
  runs: number;
  /** Whether `--runs` was given (otherwise single-run phases run once). */
  runsGiven: boolean;
  systems: SystemEntry[];
  phases: Phase[];
  /** Limit of one phase of one system. */
  timeoutMs: number;
  smoke: boolean;
  /** The arguments as given, for the report. */
  args: string[];
}

const FULL = {
  n: 10_000,
  runs: 3,
  pickupTasks: 200,
  deferred: 1_000_000,
  finished: 10_000_000,
  idleMs: 5_000,
  settleMs: 1_000,
};
const SMOKE = {
  n: 50,
  runs: 1,
  pickupTasks: 20,
  deferred: 1_000,
  finished: 20_000,
  idleMs: 1_000,
  settleMs: 300,
};
const PICKUP_GAP_MS = 20;
/** The systems of `--scale` unless `--systems` names others. */
const SCALE_SYSTEMS = ['nestjs-tasks:postgres'];
/** The time limit of `--scale`: it fills tables with millions of rows. */
const SCALE_TIMEOUT_S = 3600;

export const USAGE = `Usage: npm run bench -- [options]

  --n <count>          tasks per throughput phase (default ${FULL.n})
  --runs <count>       interleaved runs per phase; the median is reported
                       (default ${FULL.runs}; the memory phase runs once unless --runs is given)
  --systems <list>     comma-separated system keys, or parts of them (default all):
                       ${SYSTEMS.map((s) => s.key).join(', ')}
  --phases <list>      comma-separated phase keys, or parts of keys or titles (default all):
                       ${PHASES.map((p) => p.key).join(', ')}
  --deferred <count>   tasks deferred a day ahead in the memory and scale phases (default ${FULL.deferred})
  --scale              the scale phase alone (on ${SCALE_SYSTEMS.join(', ')} unless --systems says
                       otherwise): drains beside ${FULL.deferred} deferred tasks and ${FULL.finished}
                       finished results, tasks:status on them, a drain during a prune
  --finished <count>   finished results in the scale phase (default ${FULL.finished})
  --timeout <seconds>  limit of one phase of one system (default 300; --scale: ${SCALE_TIMEOUT_S})
  --smoke              N=${SMOKE.n}, runs=${SMOKE.runs}, ${SMOKE.pickupTasks} pickup tasks, ${SMOKE.deferred} deferred:
                       checks that everything runs; timings mean nothing
  --help

A list part equal to a key picks that key alone (--phases drain: the one-process
drain); any other part picks every key containing it (--systems bullmq: both).
Database URLs (loopback only): BENCH_POSTGRES_URL, BENCH_MARIADB_URL, BENCH_REDIS_URL.`;

function positiveInt(name: string, value: string): number {
  const parsed = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new Error(`--${name} must be a whole number ≥ 1, got ${value}`);
  return parsed;
}

/** The options of `argv`, or null when `--help` asks for the usage. */
export function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      runs: { type: 'string' },
      systems: { type: 'string' },
      phases: { type: 'string' },
      deferred: { type: 'string' },
      finished: { type: 'string' },
      scale: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const smoke = values.smoke ?? false;
  const base = smoke ? SMOKE : FULL;
  const scale = values.scale ?? false;
  const systemKeys = selectKeys(
    'systems',
    values.systems ?? (scale ? SCALE_SYSTEMS.join(',') : undefined),
    SYSTEMS.map((s) => s.key),
  );
  // The scale phase runs when asked for: by --scale, or by its very key.
  const named = (values.phases ?? '').split(',').map((part) => part.trim());
  const phaseKeys = scale
    ? PHASES.filter((p) => p.scale).map((p) => p.key)
    : selectKeys(
        'phases',
        values.phases,
        PHASES.filter((p) => !p.scale || named.includes(p.key)).map(
          (p) => p.key,
        ),
        (key) => PHASES.find((p) => p.key === key)!.title,
      );
  return {
    settings: {
      n: values.n ? positiveInt('n', values.n) : base.n,
      pickupTasks: base.pickupTasks,
      pickupGapMs: PICKUP_GAP_MS,
      deferred: values.deferred
        ? positiveInt('deferred', values.deferred)
        : base.deferred,
      finished: values.finished
        ? positiveInt('finished', values.finished)
        : base.finished,
      idleMs: base.idleMs,
      settleMs: base.settleMs,
    },
    runs: values.runs ? positiveInt('runs', values.runs) : base.runs,
    runsGiven: values.runs !== undefined,
    systems: SYSTEMS.filter((s) => systemKeys.includes(s.key)),
    phases: PHASES.filter((p) => phaseKeys.includes(p.key)),
    timeoutMs:
      (values.timeout
        ? positiveInt('timeout', values.timeout)
        : scale
          ? SCALE_TIMEOUT_S
          : 300) * 1000,
    smoke,
    args: argv,
  };
}

/** How often `phase` runs for each system. */
export function runsOf(phase: Phase, options: Options): number {
  return phase.once && !options.runsGiven ? 1 : options.runs;
}
