import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAppModule } from '../../lib/cli/app-module-loader.js';

describe('the nest-tasks bin finding the app module', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nest-tasks-app-'));
    writeFileSync(
      join(dir, 'app.module.mjs'),
      'export class AppModule {}\nexport class OtherModule {}\n',
    );
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads nestTasks.app from the package.json of the working directory', async () => {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ nestTasks: { app: 'app.module.mjs#OtherModule' } }),
    );
    expect((await loadAppModule(undefined, dir)).name).toBe('OtherModule');
  });

  it('prefers --app, defaulting the export name to AppModule', async () => {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ nestTasks: { app: 'app.module.mjs#OtherModule' } }),
    );
    expect((await loadAppModule('app.module.mjs', dir)).name).toBe('AppModule');
  });

  it('explains how to name the module when neither is given', async () => {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app' }));
    await expect(loadAppModule(undefined, dir)).rejects.toThrow(
      /--app dist\/app.module.js#AppModule.*nestTasks/,
    );
  });
});

describe('the nest-tasks bin when the app module file is missing', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nest-tasks-app-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the path it tried, where it came from, and the usual file it found instead', async () => {
    mkdirSync(join(dir, 'dist/src'), { recursive: true });
    writeFileSync(
      join(dir, 'dist/src/app.module.js'),
      'export class AppModule {}\n',
    );

    const error = await loadAppModule('dist/app.module.js', dir).catch(
      (error: Error) => error,
    );

    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toContain(
      `${join(dir, 'dist/app.module.js')} (from --app)`,
    );
    expect(message).toContain('This directory has dist/src/app.module.js');
    expect(message).toContain('"nestTasks": { "app": "<file>#AppModule" }');
  });

  it('says to build the application when no usual file exists either', async () => {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ nestTasks: { app: 'dist/app.module.js#AppModule' } }),
    );

    await expect(loadAppModule(undefined, dir)).rejects.toThrow(
      `(from nestTasks.app in ${join(dir, 'package.json')}) does not exist. Build the application first (nest build). Nest builds put src/app.module.ts at dist/app.module.js, or at dist/src/app.module.js`,
    );
  });
});
