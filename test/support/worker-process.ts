import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER_ENTRY = resolve(ROOT, '.test-build/test/src/worker.js');

/** Compiles the library and test/src to .test-build, for worker processes to run. */
export async function buildTestApp(): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [
      resolve(ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      resolve(ROOT, 'test/tsconfig.e2e.json'),
    ],
    {
      cwd: ROOT,
    },
  );
}

/** A `nest-tasks` process of the test application. */
export interface CliProcess {
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string>;
  output(): string;
}

/** Runs `runTasksCli(AppModule)` of the test application with these arguments. */
export function startCli(
  env: Record<string, string>,
  args: string[],
  entry = WORKER_ENTRY,
): CliProcess {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, NODE_OPTIONS: '', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | string>((done) =>
    child.on('exit', (code, signal) => done(code ?? signal ?? -1)),
  );
  return { child, exited, output: () => output };
}

/** The package's own `nest-tasks` bin, compiled with the test application. */
export const BIN_ENTRY = resolve(ROOT, '.test-build/lib/cli/bin.js');

/** A `tasks:work` process of the test application. */
export type WorkerProcess = CliProcess;

export function startWorker(
  env: Record<string, string>,
  args: string[],
): WorkerProcess {
  return startCli(env, ['tasks:work', ...args]);
}
