import { loadAppModule } from './app-module-loader.js';
import { loadedCli } from './loaded-cli.js';

/** The value of `--app` in `argv` (`--app X` or `--app=X`). */
export function appOption(argv: readonly string[]): string | undefined {
  for (const [index, arg] of argv.entries()) {
    if (arg === '--app') return argv[index + 1];
    if (arg.startsWith('--app=')) return arg.slice('--app='.length);
  }
  return undefined;
}

/**
 * Runs the `nest-tasks` bin. The application's module is imported first,
 * then the commands are taken from the build of this package (CommonJS or
 * ESM) that the application loaded with it: Nest finds providers by class,
 * and each build has classes of its own.
 */
export async function runNestTasksBin(
  argv: readonly string[],
  cwd = process.cwd(),
): Promise<void> {
  const appModule = loadAppModule(appOption(argv), cwd);
  // `--help` needs no application: a failed import is reported by the command that needs it.
  await appModule.catch(() => undefined);
  const cli = loadedCli() ?? (await import('./run-tasks-cli.js'));
  const program = cli
    .createTasksProgram(() => appModule)
    .option(
      '--app <module>',
      'the root module, as path/to/app.module.js#AppModule (default: package.json nestTasks.app)',
    );
  await cli.runProgram(program, argv);
}
