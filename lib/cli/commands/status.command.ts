import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import {
  ALL_QUEUES,
  type BackendStatus,
} from '../../backends/backend-admin.js';
import { TaskRegistry } from '../../discovery/task-registry.js';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import type { AppModuleLoader } from '../app-module-loader.js';
import { integerOption } from '../cli-options.js';
import { StderrLogger } from '../stderr-logger.js';
import { stopSignal, watch } from '../watch.js';

/** Left-aligned text columns. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => row[i].length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

/** A periodic task, its schedule, its next tick and the latest tick its backend recorded as taken (where it records them). */
interface PeriodicStatus {
  name: string;
  backend: string;
  queue: string;
  cron: string;
  timeZone: string;
  nextRun: Date | null;
  lastTick: Date | null;
}

/** What `tasks:status` reports: each backend that keeps results, then the periodic tasks. */
interface StatusReport {
  backends: (BackendStatus & { alias: string; backendClass: string })[];
  periodic: PeriodicStatus[];
}

async function readStatus(app: INestApplicationContext): Promise<StatusReport> {
  const backends: StatusReport['backends'] = [];
  for (const backend of app.get(TaskBackends, { strict: false }).all()) {
    const admin = backend.admin();
    if (!admin) continue;
    backends.push({
      alias: backend.alias,
      backendClass: backend.constructor.name,
      ...(await admin.status()),
    });
  }
  const now = new Date();
  const periodic = app
    .get(TaskRegistry, { strict: false })
    .periodic()
    .map(({ name, schedule, definition }) => ({
      name,
      backend: definition.backend,
      queue: definition.queueName,
      cron: schedule.cron,
      timeZone: schedule.timeZone,
      nextRun: schedule.nextTick(now),
      lastTick:
        backends
          .find((status) => status.alias === definition.backend)
          ?.lastTicks?.find((tick) => tick.taskName === name)?.lastTick ?? null,
    }));
  return { backends, periodic };
}

/** The report as text: per backend its counts and its workers, then the periodic tasks. */
function statusText(report: StatusReport): string {
  const out: string[] = [];
  for (const status of report.backends) {
    out.push(
      TaskMessages.backendHeading(status.alias, status.backendClass),
      '',
      table(
        ['QUEUE', 'STATUS', 'COUNT'],
        status.counts.map((c) => [
          c.queue,
          c.status,
          TaskMessages.countFigure(c.count, c.precision),
        ]),
      ),
      '',
    );
    if (
      status.counts.some(
        (c) => c.queue === ALL_QUEUES || (c.precision ?? 'exact') !== 'exact',
      )
    )
      out.push(TaskMessages.countsLegend(ALL_QUEUES), '');
    out.push(
      table(
        ['WORKER', 'HOST', 'PID', 'QUEUES', 'CONCURRENCY', 'LAST HEARTBEAT'],
        status.workers.map((w) => [
          w.id,
          w.hostname,
          String(w.pid),
          w.queues.join(','),
          String(w.concurrency),
          w.heartbeatAt.toISOString(),
        ]),
      ),
      '',
    );
  }
  if (out.length === 0) out.push(TaskMessages.noAdministrableBackend(), '');
  if (report.periodic.length > 0)
    out.push(
      TaskMessages.periodicHeading(),
      '',
      table(
        [
          'PERIODIC TASK',
          'BACKEND',
          'QUEUE',
          'CRON',
          'TIME ZONE',
          'NEXT RUN',
          'LAST TICK',
        ],
        report.periodic.map((task) => [
          task.name,
          task.backend,
          task.queue,
          task.cron,
          task.timeZone,
          task.nextRun?.toISOString() ?? '-',
          task.lastTick?.toISOString() ?? '-',
        ]),
      ),
      '',
    );
  return out.join('\n');
}

/** The report as one line of JSON; every count says how it was counted. */
function statusJson(report: StatusReport): string {
  return `${JSON.stringify({
    ...report,
    backends: report.backends.map((status) => ({
      ...status,
      counts: status.counts.map((c) => ({
        ...c,
        precision: c.precision ?? 'exact',
      })),
    })),
  })}\n`;
}

interface StatusOptions {
  watch?: boolean;
  interval: number;
  json?: boolean;
}

/**
 * `tasks:status`: counts per queue and status, and the running workers, for
 * each backend that keeps results; then the periodic tasks. With `--watch`,
 * again every second (redrawn on a terminal) until SIGINT or SIGTERM; with
 * `--json`, as JSON.
 */
export function registerStatusCommand(
  program: Command,
  loadAppModule: AppModuleLoader,
): void {
  program
    .command('tasks:status')
    .description(
      'Show counts per queue and status, the running workers and the periodic tasks',
    )
    .option(
      '--watch',
      'show it again every interval until stopped (redrawn on a terminal)',
    )
    .option(
      '--json',
      'print JSON (with --watch: one document a line), each count saying whether it is exact, an estimate or a lower bound',
    )
    .option(
      '--interval <ms>',
      'with --watch: how often, in milliseconds',
      integerOption(100),
      1000,
    )
    .action(async (options: StatusOptions) => {
      const render = async (app: INestApplicationContext) => {
        const report = await readStatus(app);
        return options.json ? statusJson(report) : statusText(report);
      };
      // JSON on standard output: Nest's own log lines go to standard error.
      const logger = options.json ? { logger: new StderrLogger() } : {};
      await withAppContext(
        await loadAppModule(),
        async (app) => {
          if (!options.watch) {
            process.stdout.write(await render(app));
            return;
          }
          const stop = stopSignal();
          try {
            await watch(
              () => render(app),
              process.stdout,
              options.interval,
              stop.signal,
              options.json,
            );
          } finally {
            stop.release();
          }
        },
        logger,
      );
    });
}
