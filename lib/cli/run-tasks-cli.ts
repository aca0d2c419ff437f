import { Logger, type Type } from '@nestjs/common';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import { Command } from 'commander';
import type { AppModuleLoader } from './app-module-loader.js';
import { registerCheckCommand } from './commands/check.command.js';
import { registerPruneCommand } from './commands/prune.command.js';
import { registerStatusCommand } from './commands/status.command.js';
import { registerWorkCommand } from './commands/work.command.js';
import { registerLoadedCli } from './loaded-cli.js';

/** The `tasks:*` commands, loading the app module only when one runs. */
export function createTasksProgram(
  loadAppModule: AppModuleLoader,
  name = 'nest-tasks',
): Command {
  const program = new Command(name)
    .description('Run and manage nestjs-tasks workers')
    .showHelpAfterError();
  registerWorkCommand(program, loadAppModule);
  registerPruneCommand(program, loadAppModule);
  registerStatusCommand(program, loadAppModule);
  registerCheckCommand(program, loadAppModule);
  return program;
}

/**
 * Runs a `tasks:*` command for this application, e.g. from an entry file
 * `await runTasksCli(AppModule)` started as `node dist/tasks.js tasks:work`,
 * then exits the process with the command's exit code (tasks interrupted by
 * a shutdown timeout may still hold handles open).
 */
export async function runTasksCli(
  appModule: Type<unknown>,
  argv: readonly string[] = process.argv,
): Promise<never> {
  await runProgram(
    createTasksProgram(async () => appModule),
    argv,
  );
  process.exit(process.exitCode ?? 0);
}

/** Parses and runs; a failure is logged and sets a non-zero exit code. */
export async function runProgram(
  program: Command,
  argv: readonly string[],
): Promise<void> {
  try {
    await program.parseAsync([...argv]);
  } catch (error) {
    new Logger(LOGGER_CONTEXT).error(
      (error as Error)?.message ?? String(error),
      (error as Error)?.stack,
    );
    process.exitCode = 1;
  }
}

// The nest-tasks bin runs the commands of the build the application imported.
registerLoadedCli({ createTasksProgram, runProgram });
