import type { INestApplicationContext } from '@nestjs/common';
import type { Command } from 'commander';
import type { BackendStatus } from '../../backends/backend-admin.js';
import { TaskRegistry } from '../../discovery/task-registry.js';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import type { AppModuleLoader } from '../app-module-loader.js';

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

/**
 * `tasks:status`: counts per queue and status, and the running workers, for
 * each backend that keeps results; then the periodic tasks.
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
    .action(async () => {
      await withAppContext(await loadAppModule(), async (app) => {
        const out: string[] = [];
        const statuses = new Map<string, BackendStatus>();
        for (const backend of app.get(TaskBackends, { strict: false }).all()) {
          const admin = backend.admin();
          if (!admin) continue;
          const status = await admin.status();
          statuses.set(backend.alias, status);
          out.push(
            TaskMessages.backendHeading(
              backend.alias,
              backend.constructor.name,
            ),
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
              [
                'WORKER',
                'HOST',
                'PID',
                'QUEUES',
                'CONCURRENCY',
                'LAST HEARTBEAT',
              ],
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
        if (out.length === 0)
          out.push(TaskMessages.noAdministrableBackend(), '');
        out.push(...periodicTable(app, statuses));
        process.stdout.write(out.join('\n'));
      });
    });
}
