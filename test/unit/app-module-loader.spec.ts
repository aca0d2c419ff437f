import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
