import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  median,
  PhaseTimeoutError,
  PHASES,
  timePhase,
  type BenchSystem,
} from './harness.js';
import { GraphileWorkerSystem } from './systems/graphile-worker.js';
import { NestjsTasksSystem } from './systems/nestjs-tasks.js';
import { PgBossSystem } from './systems/pg-boss.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every system, by the key `--systems` matches against. */
const SYSTEMS: Record<string, () => BenchSystem> = {
  'nestjs-tasks:postgres': () => new NestjsTasksSystem('postgres'),
  'nestjs-tasks:mariadb': () => new NestjsTasksSystem('mariadb'),
  'nestjs-tasks:sqlite': () => new NestjsTasksSystem('sqlite'),
  'graphile-worker': () => new GraphileWorkerSystem(),
  'pg-boss': () => new PgBossSystem(),
};

const USAGE = `Usage: npm run bench -- [options]

  --n <count>          tasks per phase (default 10000)
  --runs <count>       interleaved runs per phase; the median is reported (default 3)
  --systems <list>     comma-separated parts of system keys (default all):
                       ${Object.keys(SYSTEMS).join(', ')}
  --timeout <seconds>  limit of one phase of one system (default 300)
  --smoke              N=50, runs=1: checks that everything runs; timings mean nothing
  --help

Database URLs (loopback only): BENCH_POSTGRES_URL, BENCH_MARIADB_URL.`;

interface Options {
  n: number;
  runs: number;
  systems: string[];
  timeoutMs: number;
  smoke: boolean;
}

function positiveInt(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new Error(`--${name} must be a whole number ≥ 1, got ${value}`);
  return parsed;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      n: { type: 'string' },
      runs: { type: 'string' },
      systems: { type: 'string' },
      timeout: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return null;
  const smoke = values.smoke ?? false;
  const filters = (values.systems ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  const systems = Object.keys(SYSTEMS).filter(
    (key) => filters.length === 0 || filters.some((part) => key.includes(part)),
  );
  if (systems.length === 0)
    throw new Error(
      `--systems ${values.systems} matches none of: ${Object.keys(SYSTEMS).join(', ')}`,
    );
  return {
    n: values.n ? positiveInt('n', values.n) : smoke ? 50 : 10_000,
    runs: values.runs ? positiveInt('runs', values.runs) : smoke ? 1 : 3,
    systems,
    timeoutMs:
      (values.timeout ? positiveInt('timeout', values.timeout) : 300) * 1000,
    smoke,
  };
}

interface Figure {
  phase: string;
  system: string;
  n: number;
  runsMs: number[];
  medianMs: number | null;
  tasksPerSecond: number | null;
  /** The time limit, when a run overran it: the figure is then only a lower bound. */
  timedOutMs: number | null;
  errors: string[];
}

function packageVersion(name: string): string {
  try {
    const file = join(ROOT, 'node_modules', name, 'package.json');
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function printTable(figures: Figure[], systems: string[]): void {
  const header = [
    'phase',
    'system',
    'median ms',
    'tasks/s',
    ...systems.map((peer) => `÷ ${peer}`),
  ];
  const rows = figures.map((figure) => {
    // An overrun figure is only a lower bound: `>limit`, and ratios with it bounds too.
    const time = (f: Figure) => f.medianMs ?? f.timedOutMs;
    const peers = systems.map((peer) => {
      if (peer === figure.system) return '—';
      const other = figures.find(
        (f) => f.phase === figure.phase && f.system === peer,
      );
      const mine = time(figure);
      const theirs = other ? time(other) : null;
      if (!mine || !theirs) return 'n/a';
      const bound =
        figure.timedOutMs !== null
          ? other!.timedOutMs !== null
            ? null
            : '>'
          : other!.timedOutMs !== null
            ? '<'
            : '';
      return bound === null ? 'n/a' : bound + (mine / theirs).toFixed(2);
    });
    const mine = time(figure);
    const over = figure.timedOutMs !== null ? '>' : '';
    const under = figure.timedOutMs !== null ? '<' : '';
    return [
      figure.phase,
      figure.system,
      mine === null ? 'failed' : over + mine.toFixed(0),
      mine === null ? '' : under + ((figure.n * 1000) / mine).toFixed(0),
      ...peers,
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length)),
  );
  const line = (cells: string[]) =>
    cells.map((cell, i) => pad(cell, widths[i], i >= 2)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(
    '\n÷ peer: this median time over the peer’s in the same run (below 1: faster than the peer);\n' +
      '>t: did not finish within the time limit t (then ratios are bounds).',
  );
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const { n, runs, timeoutMs, smoke } = options;
  console.log(
    `nestjs-tasks benchmark: N=${n}, runs=${runs}${smoke ? ' (smoke: timings mean nothing)' : ''}, systems: ${options.systems.join(', ')}`,
  );
  const systems = options.systems.map((key) => SYSTEMS[key]());
  const figures: Figure[] = [];
  const opened: BenchSystem[] = [];
  let failed = false;
  try {
    for (const system of systems) {
      await system.open();
      opened.push(system);
    }
    for (const phase of PHASES) {
      const byName = new Map<string, Figure>();
      for (const system of systems) {
        const figure: Figure = {
          phase: phase.name,
          system: system.name,
          n,
          runsMs: [],
          medianMs: null,
          tasksPerSecond: null,
          timedOutMs: null,
          errors: [],
        };
        byName.set(system.name, figure);
        figures.push(figure);
      }
      // Interleaved: every system once per run, so drift hits all alike.
      for (let run = 1; run <= runs; run++) {
        for (const system of systems) {
          const figure = byName.get(system.name)!;
          if (figure.timedOutMs !== null) continue; // it would overrun again
          try {
            const ms = await timePhase(phase, system, n, timeoutMs);
            figure.runsMs.push(ms);
            console.log(
              `  ${phase.name} | ${system.name} | run ${run}: ${ms.toFixed(0)} ms`,
            );
          } catch (error) {
            const message =
              error instanceof Error ? error.message : String(error);
            figure.errors.push(message);
            if (error instanceof PhaseTimeoutError) {
              // A lower bound, not an error, unless a smoke run hangs.
              figure.timedOutMs = timeoutMs;
              if (smoke) failed = true;
            } else {
              failed = true;
            }
            const label =
              error instanceof PhaseTimeoutError ? 'TIMED OUT' : 'FAILED';
            console.error(
              `  ${phase.name} | ${system.name} | run ${run}: ${label}: ${message}`,
            );
          }
        }
      }
      for (const figure of byName.values()) {
        if (figure.runsMs.length === 0 || figure.timedOutMs !== null) continue;
        figure.medianMs = median(figure.runsMs);
        figure.tasksPerSecond = (n * 1000) / figure.medianMs;
      }
    }
  } catch (error) {
    failed = true;
    console.error(error);
  } finally {
    for (const system of opened) {
      await system
        .close()
        .catch((error) =>
          console.error(`${system.name}: cleanup failed:`, error),
        );
    }
  }
  console.log('');
  printTable(
    figures,
    systems.map((system) => system.name),
  );
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, 'latest.json');
  writeFileSync(
    file,
    JSON.stringify(
      {
        finishedAt: new Date().toISOString(),
        node: process.version,
        n,
        runs,
        smoke,
        versions: {
          'graphile-worker': packageVersion('graphile-worker'),
          'pg-boss': packageVersion('pg-boss'),
          typeorm: packageVersion('typeorm'),
        },
        figures,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`Results: ${file}`);
  return failed ? 1 : 0;
}

const code = await main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  return 1;
});
// Pools of the peers' drivers may keep the event loop alive after cleanup.
process.exit(code);
