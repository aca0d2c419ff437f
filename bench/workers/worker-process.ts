import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from '../limits.js';
import type { WorkerSpec } from '../system.js';
import type { ChildMessage, ParentMessage } from './protocol.js';

/** How long a worker process may take to stop after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** Every worker process still alive, killed if the bench exits without stopping them. */
const alive = new Set<ChildProcess>();

/** Kills every worker process at once (on exit, or when the bench is interrupted). */
export function killWorkerProcesses(): void {
  for (const child of alive) child.kill('SIGKILL');
}

process.on('exit', killWorkerProcesses);

type Reply<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

/** One worker process forked from a compiled entry under `bench/workers/`. */
export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly waiters = new Map<string, (message: ChildMessage) => void>();
  private stopping = false;
  private rejectFailure!: (error: Error) => void;
  /** Rejects once the process reports an error or exits unasked. */
  readonly failure: Promise<never>;

  private constructor(
    spec: WorkerSpec,
    private readonly label: string,
    onPickup: (latencyMs: number) => void,
  ) {
    this.failure = new Promise<never>((_, reject) => {
      this.rejectFailure = reject;
    });
    this.failure.catch(() => undefined); // raced by callers, never left unhandled
    this.child = fork(
      fileURLToPath(spec.entry),
      [JSON.stringify(spec.config)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    alive.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        alive.delete(this.child);
        if (!this.stopping)
          this.rejectFailure(
            new Error(
              `${label}: worker process exited (${signal ?? `code ${code}`})`,
            ),
          );
        resolve();
      });
    });
    this.child.on('error', (error) => this.rejectFailure(error));
    this.child.on('message', (message: ChildMessage) => {
      if (message.type === 'pickup') return onPickup(message.latencyMs);
      if (message.type === 'error')
        return this.rejectFailure(
          new Error(`${label}: worker process failed: ${message.message}`),
        );
      const waiter = this.waiters.get(message.type);
      this.waiters.delete(message.type);
      waiter?.(message);
    });
  }

  /** Forks a worker process and waits until it has booted. */
  static async launch(
    spec: WorkerSpec,
    label: string,
    deadline: AbortSignal,
    onPickup: (latencyMs: number) => void = () => {},
  ): Promise<WorkerProcess> {
    const worker = new WorkerProcess(spec, label, onPickup);
    try {
      await worker.reply('ready', deadline);
      return worker;
    } catch (error) {
      await worker.stop();
      throw error;
    }
  }

  /** Tells the booted worker to start consuming; resolves once it runs. */
  async start(deadline: AbortSignal): Promise<void> {
    await this.reply('started', deadline, { type: 'start' });
  }

  /** The worker process's resident set size, in bytes. */
  async rss(deadline: AbortSignal): Promise<number> {
    return (await this.reply('rss', deadline, { type: 'rss' })).bytes;
  }

  /** `work`, cut short with the reason if the process fails meanwhile. */
  watch<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.failure]);
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace time. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!alive.has(this.child)) return this.exited;
    this.child.kill('SIGTERM');
    const exited = await Promise.race([
      this.exited.then(() => true),
      sleep(STOP_GRACE_MS).then(() => false),
    ]);
    if (!exited) {
      console.error(
        `${this.label}: worker process ignored SIGTERM; killing it`,
      );
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private reply<T extends ChildMessage['type']>(
    type: T,
    deadline: AbortSignal,
    request?: ParentMessage,
  ): Promise<Reply<T>> {
    const answered = new Promise<Reply<T>>((resolve, reject) => {
      const onAbort = () => reject(new Error('phase time limit reached'));
      if (deadline.aborted) return onAbort();
      deadline.addEventListener('abort', onAbort, { once: true });
      this.waiters.set(type, (message) => {
        deadline.removeEventListener('abort', onAbort);
        resolve(message as Reply<T>);
      });
    });
    if (request) this.child.send(request);
    return this.watch(answered);
  }
}

/**
 * Launches `count` worker processes of `spec` side by side, hands them to
 * `use`, and stops every one of them afterwards, whatever happened.
 */
export async function withWorkerProcesses<T>(
  spec: WorkerSpec,
  count: number,
  label: string,
  deadline: AbortSignal,
  use: (workers: WorkerProcess[]) => Promise<T>,
  onPickup?: (latencyMs: number) => void,
): Promise<T> {
  const launches = Array.from({ length: count }, (_, i) =>
    WorkerProcess.launch(spec, `${label} worker ${i + 1}`, deadline, onPickup),
  );
  const settled = await Promise.allSettled(launches);
  const workers = settled.flatMap((s) =>
    s.status === 'fulfilled' ? [s.value] : [],
  );
  try {
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return await use(workers);
  } finally {
    await Promise.all(workers.map((worker) => worker.stop()));
  }
}
