#!/usr/bin/env node
import { loadAppModule } from './app-module-loader.js';
import { createTasksProgram, runProgram } from './run-tasks-cli.js';

const program = createTasksProgram(() =>
  loadAppModule(program.opts<{ app?: string }>().app),
);
program.option(
  '--app <module>',
  'the root module, as path/to/app.module.js#AppModule (default: package.json nestTasks.app)',
);

await runProgram(program, process.argv);
// Tasks interrupted by a shutdown timeout may still hold handles: the command is over.
process.exit(process.exitCode ?? 0);
