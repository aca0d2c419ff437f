import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import type { BackendStatus } from '../../backends/backend-admin.js';
import { TaskRegistry } from '../../discovery/task-registry.js';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import type { AppModuleLoader } from '../app-module-loader.js';
import { integerOption } from '../cli-options.js';
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

/**
 * The periodic tasks, each with its schedule, its next tick and the latest
 * tick its backend recorded as taken (where the backend records them).
 */
function periodicTable(
  app: INestApplicationContext,
  statuses: ReadonlyMap<string, BackendStatus>,
): string[] {
  const periodic = app.get(TaskRegistry, { strict: false }).periodic();
  if (periodic.length === 0) return [];
  const now = new Date();
  const rows = periodic.map(({ name, schedule, definition }) => {
    const last = statuses
      .get(definition.backend)
      ?.lastTicks?.find((tick) => tick.taskName === name)?.lastTick;
    return [
      name,
      definition.backend,
      definition.queueName,
      schedule.cron,
      schedule.timeZone,
      schedule.nextTick(now)?.toISOString() ?? '-',
      last?.toISOString() ?? '-',
    ];
  });
  return [
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
      rows,
    ),
    '',
  ];
}

/** Counts per queue and status and the running workers of each backend that keeps results, then the periodic tasks. */
async function statusReport(app: INestApplicationContext): Promise<string> {
  const out: string[] = [];
  const statuses = new Map<string, BackendStatus>();
  for (const backend of app.get(TaskBackends, { strict: false }).all()) {
    const admin = backend.admin();
    if (!admin) continue;
    const status = await admin.status();
    statuses.set(backend.alias, status);
    out.push(
      TaskMessages.backendHeading(backend.alias, backend.constructor.name),
      '',
    );
    out.push(
      table(
        ['QUEUE', 'STATUS', 'COUNT'],
        status.counts.map((c) => [c.queue, c.status, String(c.count)]),
      ),
      '',
    );
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
  out.push(...periodicTable(app, statuses));
  return out.join('\n');
}

interface StatusOptions {
  watch?: boolean;
  interval: number;
}

/**
 * `tasks:status`: counts per queue and status, and the running workers, for
 * each backend that keeps results; then the periodic tasks. With `--watch`,
 * again every second (redrawn on a terminal) until SIGINT or SIGTERM.
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
      '--interval <ms>',
      'with --watch: how often, in milliseconds',
      integerOption(100),
      1000,
    )
    .action(async (options: StatusOptions) => {
      await withAppContext(await loadAppModule(), async (app) => {
        if (!options.watch) {
          process.stdout.write(await statusReport(app));
          return;
        }
        const stop = stopSignal();
        try {
          await watch(
            () => statusReport(app),
            process.stdout,
            options.interval,
            stop.signal,
          );
        } finally {
          stop.release();
        }
      });
    });
}
