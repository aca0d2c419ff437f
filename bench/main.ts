import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseOptions, runsOf, USAGE, type Options } from './options.js';
import { describeEnvironment } from './report/environment.js';
import { resultsAsMarkdown } from './report/markdown.js';
import { summarize } from './report/summary.js';
import { buildTables } from './report/tables.js';
import { tableAsText } from './report/text.js';
import { runPhases, type Figure, type OpenSystem } from './runner.js';
import { killWorkerProcesses } from './workers/worker-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How long an interrupted bench may spend removing what it made. */
const INTERRUPT_CLEANUP_MS = 20_000;

/** The systems opened so far; each is closed once, at the end or on interruption. */
const opened: OpenSystem[] = [];

async function closeSystems(): Promise<void> {
  for (const { entry, system } of opened.splice(0)) {
    await system
      .close()
      .catch((error) => console.error(`${entry.key}: cleanup failed:`, error));
  }
}

// Interrupted (Ctrl-C, CI's timeout): kill the worker processes, drop what
// the systems made, exit. A second signal ends the process at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`\n${signal}: stopping; removing what the benchmark made`);
    killWorkerProcesses();
    setTimeout(() => process.exit(1), INTERRUPT_CLEANUP_MS).unref();
    void closeSystems().finally(() => process.exit(1));
  });

function writeResult(name: string, text: string): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** "median of 3 interleaved runs (memory: 1 run)", as the phases ran. */
function describeRuns(options: Options): string {
  const runs = (count: number) => `${count} run${count === 1 ? '' : 's'}`;
  const exceptions = options.phases
    .filter((phase) => runsOf(phase, options) !== options.runs)
    .map((phase) => `${phase.key}: ${runs(runsOf(phase, options))}`);
  const rounds =
    options.runs === 1 ? '1 run' : `median of ${options.runs} interleaved runs`;
  return rounds + (exceptions.length ? ` (${exceptions.join(', ')})` : '');
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const { settings, runs, smoke } = options;
  const environment = await describeEnvironment(
    ROOT,
    new Set(options.systems.map((s) => s.store)),
  );
  console.log(
    `nestjs-tasks benchmark: N=${settings.n}, runs=${runs}, deferred=${settings.deferred}` +
      `${smoke ? ' (smoke: timings mean nothing)' : ''}\n` +
      `  systems: ${options.systems.map((s) => s.key).join(', ')}\n` +
      `  phases: ${options.phases.map((p) => p.key).join(', ')}\n` +
      `  ${environment.cpus}; Node ${environment.node}; ${Object.values(environment.servers).join(', ')}`,
  );
  let figures: Figure[] = [];
  let failed = false;
  try {
    for (const entry of options.systems) {
      const system = entry.create();
      opened.push({ entry, system });
      await system.open();
    }
    ({ figures, failed } = await runPhases(options, opened));
  } catch (error) {
    failed = true;
    console.error(error);
  } finally {
    await closeSystems();
  }
  const tables = buildTables(figures, options.systems, settings);
  console.log('\n' + tables.map(tableAsText).join('\n\n'));
  const date = new Date();
  const json = writeResult(
    'latest.json',
    JSON.stringify(
      {
        finishedAt: date.toISOString(),
        args: options.args,
        runs,
        smoke,
        settings,
        environment,
        figures: figures.map((figure) => ({
          ...figure,
          summary: summarize(figure),
        })),
      },
      null,
      2,
    ) + '\n',
  );
  const markdown = writeResult(
    'latest.md',
    resultsAsMarkdown(tables, environment, {
      args: options.args,
      runs: describeRuns(options),
      date,
    }),
  );
  console.log(`\nResults: ${json}\nMarkdown for a README: ${markdown}`);
  return failed ? 1 : 0;
}

const code = await main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  return 1;
});
// Pools of the peers' drivers may keep the event loop alive after cleanup.
process.exit(code);
