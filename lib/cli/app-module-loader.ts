import { TaskMessages } from '../tasks.messages.js';
import type { Type } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Supplies the application's root module when a command needs it. */
export type AppModuleLoader = () => Promise<Type<unknown>>;

/** Where Nest builds put `src/app.module.ts`: with only src/ compiled, and with files beside it. */
const USUAL_APP_MODULE_FILES = ['dist/app.module.js', 'dist/src/app.module.js'];

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
  const path = resolve(cwd, file);
  if (!existsSync(path)) {
    throw new Error(
      TaskMessages.appModuleFileMissing(
        path,
        app ? '--app' : `nestTasks.app in ${join(cwd, 'package.json')}`,
        USUAL_APP_MODULE_FILES.filter(
          (usual) =>
            resolve(cwd, usual) !== path && existsSync(resolve(cwd, usual)),
        ),
      ),
    );
  }
  const loaded = (await import(pathToFileURL(path).href)) as Record<
    string,
    unknown
  >;
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
