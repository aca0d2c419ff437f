import type { Command } from 'commander';
import { Logger } from '@nestjs/common';
import type { TaskBackend } from '../../backends/backend.js';
import { TaskBackends } from '../../dispatch/task-backends.js';
import { TaskOutbox } from '../../dispatch/task-outbox.js';
import { LOGGER_CONTEXT } from '../../tasks.constants.js';
import { TaskMessages } from '../../tasks.messages.js';
import { withAppContext } from '../app-context.js';
import type { AppModuleLoader } from '../app-module-loader.js';

/** Runs `check()` of each backend, and the check of its outbox, and logs what they find; true when there is no error. */
export async function reportCheck(
  backends: readonly TaskBackend[],
  outbox: TaskOutbox,
): Promise<boolean> {
  const logger = new Logger(LOGGER_CONTEXT);
  let ok = true;
  for (const backend of backends) {
    const messages = [
      ...(await backend.check()),
      ...(await outbox.check(backend)),
    ];
    for (const message of messages) {
      if (message.level === 'error') {
        ok = false;
        logger.error(message.message);
      } else {
        logger.warn(message.message);
      }
    }
    if (messages.length === 0)
      logger.log(TaskMessages.checkOk(backend.alias, backend.constructor.name));
  }
  return ok;
}

/** `tasks:check`: runs every backend's check; non-zero exit on problems. */
export function registerCheckCommand(
  program: Command,
  loadAppModule: AppModuleLoader,
): void {
  program
    .command('tasks:check')
    .description(
      "Run every backend's check() (configuration, tables); exits non-zero on problems",
    )
    .action(async () => {
      const ok = await withAppContext(await loadAppModule(), (app) =>
        reportCheck(
          app.get(TaskBackends, { strict: false }).all(),
          app.get(TaskOutbox, { strict: false }),
        ),
      );
      if (!ok) process.exitCode = 1;
    });
}
