import type { createTasksProgram, runProgram } from './run-tasks-cli.js';

/** The commands of one build (CommonJS or ESM) of this package. */
export interface TasksCli {
  createTasksProgram: typeof createTasksProgram;
  runProgram: typeof runProgram;
}

/** One key for the whole process: both builds of this package see it. */
const LOADED_CLI = Symbol.for('nestjs-tasks.cli');

type WithLoadedCli = typeof globalThis & { [LOADED_CLI]?: TasksCli };

/** Records the commands of the first build that loads them: the one the application imported. */
export function registerLoadedCli(cli: TasksCli): void {
  (globalThis as WithLoadedCli)[LOADED_CLI] ??= cli;
}

/** The commands of the build the application loaded, if it loaded one. */
export function loadedCli(): TasksCli | undefined {
  return (globalThis as WithLoadedCli)[LOADED_CLI];
}
