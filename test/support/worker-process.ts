import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DataSource } from 'typeorm';
import type { TestDatabase } from './databases.js';

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

/** The BullMQBackend application's `nest-tasks` (test/src/bullmq-worker.ts). */
export const BULLMQ_WORKER_ENTRY = resolve(
  ROOT,
  '.test-build/test/src/bullmq-worker.js',
);

/** The outbox application's `nest-tasks` (test/src/outbox-worker.ts). */
export const OUTBOX_WORKER_ENTRY = resolve(
  ROOT,
  '.test-build/test/src/outbox-worker.js',
);

/** The outbox application's script that commits an enqueue and waits to be killed (test/src/outbox-committer.ts). */
export const OUTBOX_COMMITTER_ENTRY = resolve(
  ROOT,
  '.test-build/test/src/outbox-committer.js',
);

/** The test application's script that enqueues one unique key many times at once (test/src/enqueuer.ts). */
export const ENQUEUER_ENTRY = resolve(ROOT, '.test-build/test/src/enqueuer.js');

/** A `tasks:work` process of the test application. */
export type WorkerProcess = CliProcess;

export function startWorker(
  env: Record<string, string>,
  args: string[],
): WorkerProcess {
  return startCli(env, ['tasks:work', ...args]);
}

/** The environment of the test application's worker processes for a suite's table. */
export function workerEnv(
  db: TestDatabase,
  ds: DataSource,
  table: string,
  leaseMs: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TASKS_TEST_DB: db.name,
    TASKS_TEST_TABLE: table,
    TASKS_TEST_LEASE_MS: String(leaseMs),
    ...(db.name === 'sqlite'
      ? {
          TASKS_TEST_SQLITE_FILE: String(
            (ds.options as { database: string }).database,
          ),
        }
      : {}),
    ...extra,
  };
}

/** Ends every process that still runs (resuming a stopped one first) and waits for it. */
export async function killAll(processes: WorkerProcess[]): Promise<void> {
  for (const worker of processes.splice(0)) {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill('SIGCONT');
      worker.child.kill('SIGKILL');
    }
    await worker.exited;
  }
}
