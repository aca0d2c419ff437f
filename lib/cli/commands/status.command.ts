import type { Command } from 'commander';
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

/** `tasks:status`: counts per queue and status, and the running workers, for each backend that keeps results. */
export function registerStatusCommand(
  program: Command,
  loadAppModule: AppModuleLoader,
): void {
  program
    .command('tasks:status')
    .description('Show counts per queue and status, and the running workers')
    .action(async () => {
      await withAppContext(await loadAppModule(), async (app) => {
        const out: string[] = [];
        for (const backend of app.get(TaskBackends, { strict: false }).all()) {
          const admin = backend.admin();
          if (!admin) continue;
          const status = await admin.status();
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
        process.stdout.write(
          `${out.length ? out.join('\n') : `${TaskMessages.noAdministrableBackend()}\n`}`,
        );
      });
    });
}
