import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import type { INestApplicationContext } from '@nestjs/common';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskOutbox } from '../../dispatch/task-outbox.js';
import type { CountPrecision } from '../../backends/backend-admin.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import { collect, integerOption, parseDuration } from '../cli-options.js';
import type { AppModuleLoader } from '../app-module-loader.js';

const FINISHED = [
  TaskResultStatus.SUCCESSFUL,
  TaskResultStatus.FAILED,
  TaskResultStatus.CANCELLED,
];

export interface PruneOptions {
  backend: string;
  olderThan: number;
  status: string[];
  dryRun?: boolean;
  batchSize: number;
}

function finishedStatus(value: string, previous: string[] = []): string[] {
  const status = value.toUpperCase();
  if (!FINISHED.includes(status as TaskResultStatus)) {
    throw new InvalidArgumentError(
      TaskMessages.notAFinishedStatus(value, FINISHED),
    );
  }
  return collect(status, previous);
}

/** `tasks:prune`: deletes finished results, in bounded batches. */
export function registerPruneCommand(
  program: Command,
  loadAppModule: AppModuleLoader,
): void {
  program
    .command('tasks:prune')
    .description('Delete finished results older than a given age')
    .option('--backend <alias>', 'backend alias', 'default')
    .option(
      '--older-than <duration>',
      'age of the results to delete (e.g. 7d, 12h, 30m)',
      parseDuration,
      parseDuration('7d'),
    )
    .option(
      '--status <status>',
      `status to delete (repeatable; default ${FINISHED.join(', ')})`,
      finishedStatus,
      [],
    )
    .option('--dry-run', 'count what would be deleted, delete nothing')
    .option(
      '--batch-size <n>',
      'rows deleted per statement',
      integerOption(1),
      1000,
    )
    .action(async (options: PruneOptions) => {
      await withAppContext(await loadAppModule(), async (app) => {
        const { count, precision, statuses } = await pruneResults(app, options);
        process.stdout.write(
          `${TaskMessages.pruned(count, statuses, options.dryRun ?? false, precision)}\n`,
        );
      });
    });
}

/**
 * What `tasks:prune` does in `app`. A backend with an outbox has its
 * outbox swept first, however recent its rows: a row whose relay was cut
 * short after its task was stored (the process died before deleting it)
 * is dropped there while its result still says it was stored; once that
 * result were pruned, the row would be relayed again and its task run
 * twice.
 */
export async function pruneResults(
  app: INestApplicationContext,
  options: PruneOptions,
): Promise<{
  count: number;
  precision?: CountPrecision;
  statuses: TaskResultStatus[];
}> {
  const backend = app.get(TaskBackends, { strict: false }).get(options.backend);
  const admin = backend.admin();
  if (!admin) {
    throw new InvalidTaskBackendError(
      TaskMessages.nothingToPrune(options.backend, backend.constructor.name),
    );
  }
  const statuses = (
    options.status.length ? options.status : FINISHED
  ) as TaskResultStatus[];
  const dryRun = options.dryRun ?? false;
  if (!dryRun && backend.outbox)
    await app
      .get(TaskOutbox, { strict: false })
      .sweepAll(backend)
      .catch((error: unknown) => {
        throw new InvalidTaskBackendError(
          TaskMessages.pruneOutboxUnswept(
            options.backend,
            (error as Error)?.message ?? String(error),
          ),
          { cause: error },
        );
      });
  const pruned = await admin.prune({
    finishedBefore: new Date(Date.now() - options.olderThan),
    statuses,
    dryRun,
    batchSize: options.batchSize,
  });
  return {
    ...(typeof pruned === 'number' ? { count: pruned } : pruned),
    statuses,
  };
}
