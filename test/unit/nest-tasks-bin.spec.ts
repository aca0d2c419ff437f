import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appOption, runNestTasksBin } from '../../lib/cli/nest-tasks-bin.js';

/** What the stand-in build below saw. */
interface Seen {
  argv: readonly string[];
  appModule: string;
}

const seen = () => (globalThis as { nestTasksBinSeen?: Seen }).nestTasksBinSeen;

describe('the nest-tasks bin', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nest-tasks-bin-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    delete (globalThis as { nestTasksBinSeen?: Seen }).nestTasksBinSeen;
  });

  it('reads --app in both spellings', () => {
    expect(appOption(['node', 'bin', 'tasks:work', '--app', 'a.js#A'])).toBe(
      'a.js#A',
    );
    expect(appOption(['node', 'bin', '--app=b.js', 'tasks:check'])).toBe(
      'b.js',
    );
    expect(appOption(['node', 'bin', 'tasks:check'])).toBeUndefined();
  });

  it('imports the app module first, then runs the commands of the build that module loaded', async () => {
    // Stands in for an application whose module loads the other build of
    // this package (CommonJS or ESM): that build registers its commands.
    writeFileSync(
      join(dir, 'app.module.mjs'),
      `export class AppModule {}
globalThis[Symbol.for('nestjs-tasks.cli')] ??= {
  createTasksProgram: (load) => ({ load, option() { return this; } }),
  runProgram: async (program, argv) => {
    globalThis.nestTasksBinSeen = { argv, appModule: (await program.load()).name };
  },
};
`,
    );
    const argv = [
      'node',
      'nest-tasks',
      'tasks:work',
      '--app',
      'app.module.mjs',
    ];

    await runNestTasksBin(argv, dir);

    expect(seen()).toEqual({ argv, appModule: 'AppModule' });
  });
});
