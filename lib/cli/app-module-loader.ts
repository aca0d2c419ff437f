import { TaskMessages } from '../tasks.messages.js';
import type { Type } from '@nestjs/common';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Supplies the application's root module when a command needs it. */
export type AppModuleLoader = () => Promise<Type<unknown>>;

/**
 * Imports the module named by `--app path/to/app.module.js#AppModule`, or by
 * the `nestTasks.app` key of the package.json in `cwd`.
 */
export async function loadAppModule(
  app: string | undefined,
  cwd = process.cwd(),
): Promise<Type<unknown>> {
  const spec = app ?? (await appFromPackageJson(cwd));
  if (!spec) {
    throw new Error(TaskMessages.appModuleMissing());
  }
  const [file, exportName = 'AppModule'] = spec.split('#');
  const loaded = (await import(
    pathToFileURL(resolve(cwd, file)).href
  )) as Record<string, unknown>;
  const module = loaded[exportName];
  if (typeof module !== 'function') {
    throw new Error(
      TaskMessages.appModuleExportMissing(
        file,
        exportName,
        Object.keys(loaded),
      ),
    );
  }
  return module as Type<unknown>;
}

async function appFromPackageJson(cwd: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(
      await readFile(resolve(cwd, 'package.json'), 'utf8'),
    ) as { nestTasks?: { app?: unknown } };
    return typeof pkg.nestTasks?.app === 'string'
      ? pkg.nestTasks.app
      : undefined;
  } catch {
    return undefined;
  }
}
