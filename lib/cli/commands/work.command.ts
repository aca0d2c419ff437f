import { Option, type Command } from 'commander';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskOutbox } from '../../dispatch/task-outbox.js';
import { LOGGER_CONTEXT } from '../../tasks.constants.js';
import { WorkerFactory } from '../../worker/worker-factory.service.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import { collect, integerOption } from '../cli-options.js';
import type { AppModuleLoader } from '../app-module-loader.js';
import { reportCheck } from './check.command.js';
import { WORK_LOG_FORMATS, type WorkLogFormat } from '../work-log.js';
import { reportWork } from '../work-reporter.js';

interface WorkOptions {
  backend: string;
  queue: string[];
  concurrency: number;
  prefetch?: number;
  interval: number;
  batch?: boolean;
  maxTasks?: number;
  workerId?: string;
  shutdownTimeout: number;
  logFormat?: WorkLogFormat;
}

/** `tasks:work`: claims and runs tasks until stopped. */
export function registerWorkCommand(
  program: Command,
  loadAppModule: AppModuleLoader,
): void {
  program
    .command('tasks:work')
    .description(
      'Run a worker: claim and run tasks until stopped (SIGTERM/SIGINT: finish running tasks, then exit 0)',
    )
    .option('--backend <alias>', 'backend alias', 'default')
    .option(
      '--queue <name>',
      "queue to take from (repeatable; '*' for every queue)",
      collect,
      [],
    )
    .option('--concurrency <n>', 'tasks run at once', integerOption(1), 10)
    .option(
      '--prefetch <n>',
      'most claimed tasks kept ready beyond the free slots (default: 10 × the concurrency; 0: none)',
      integerOption(0),
    )
    .option(
      '--interval <ms>',
      'polling interval in milliseconds',
      integerOption(1),
      1000,
    )
    .option('--batch', 'exit when the queues are empty')
    .option(
      '--max-tasks <n>',
      'exit after running this many tasks',
      integerOption(1),
    )
    .option('--worker-id <id>', 'worker id (default: host:pid:random)')
    .option(
      '--shutdown-timeout <ms>',
      'how long a stop waits for running tasks',
      integerOption(0),
      30000,
    )
    .addOption(
      new Option(
        '--log-format <format>',
        'write a log line per task started and finished, and JSON logs with json (default on a terminal: one live line per queue; elsewhere: text lines)',
      ).choices(WORK_LOG_FORMATS),
    )
    .action(async (options: WorkOptions) => {
      const appLogger =
        options.logFormat === 'json'
          ? new ConsoleLogger({ json: true })
          : undefined;
      const exit = await withAppContext(
        await loadAppModule(),
        async (app) => {
          const backend = app
            .get(TaskBackends, { strict: false })
            .get(options.backend);
          const outbox = app.get(TaskOutbox, { strict: false });
          if (!(await reportCheck([backend], outbox))) return 'failed';
          const worker = app.get(WorkerFactory, { strict: false }).create({
            backend: options.backend,
            queues: options.queue.length ? options.queue : null,
            concurrency: options.concurrency,
            prefetch: options.prefetch,
            intervalMs: options.interval,
            batch: options.batch ?? false,
            maxTasks: options.maxTasks ?? null,
            workerId: options.workerId,
            shutdownTimeoutMs: options.shutdownTimeout,
          });
          const logger = new Logger(LOGGER_CONTEXT);
          let signals = 0;
          const onSignal = (signal: NodeJS.Signals) => {
            signals += 1;
            if (signals === 1) {
              logger.log(TaskMessages.stopSignal(signal));
              worker.stop();
            } else {
              logger.warn(TaskMessages.abortSignal(signal));
              worker.abort();
            }
          };
          process.on('SIGTERM', onSignal);
          process.on('SIGINT', onSignal);
          const stopReporting = reportWork(
            app,
            process.stdout,
            options.logFormat,
          );
          try {
            return await worker.run();
          } finally {
            stopReporting();
            process.off('SIGTERM', onSignal);
            process.off('SIGINT', onSignal);
          }
        },
        { logger: appLogger },
      );
      if (exit !== 'drained') process.exitCode = 1;
    });
}
