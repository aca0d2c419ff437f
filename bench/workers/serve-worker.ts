import { wallClockMs } from '../clock.js';
import type { ChildMessage, ParentMessage } from './protocol.js';

/** What a worker entry gets from the process it runs in. */
export interface WorkerContext<Config> {
  /** The settings the bench handed over (its `WorkerSpec.config`). */
  readonly config: Config;
  /** Call at the start of a pickup task's body with the time it carries. */
  observePickup(enqueuedAt: number): void;
  /** Reports a failure of the running worker and ends the process. */
  fail(error: unknown): void;
}

/** A booted worker, started on request and stopped on SIGTERM. */
export interface WorkerHandle {
  /** Starts consuming; resolves once the worker runs. */
  start(): Promise<void>;
  /** Stops consuming and releases connections. */
  stop(): Promise<void>;
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error
    ? (error.stack ?? error.message)
    : String(error);
}

/**
 * The process side of a bench worker: boots with the settings in argv[2],
 * says `ready`, starts on `start`, answers `rss`, reports pickups, and stops
 * on SIGTERM — or when the bench that forked it goes away.
 */
export async function serveWorker<Config>(
  boot: (context: WorkerContext<Config>) => Promise<WorkerHandle>,
): Promise<void> {
  let handle: WorkerHandle | undefined;
  let ending: Promise<void> | undefined;
  const end = (code: number) => {
    ending ??= (async () => {
      try {
        await handle?.stop();
      } catch (error) {
        console.error('bench worker: stop failed:', messageOf(error));
        code = 1;
      }
      process.exit(code);
    })();
  };
  const fail = (error: unknown) => {
    void send({ type: 'error', message: messageOf(error) }).then(() =>
      process.exit(1),
    );
  };
  process.on('SIGTERM', () => end(0));
  process.on('disconnect', () => end(1));
  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'start':
        handle!.start().then(() => send({ type: 'started' }), fail);
        break;
      case 'rss':
        void send({ type: 'rss', bytes: process.memoryUsage().rss });
        break;
    }
  });
  try {
    handle = await boot({
      config: JSON.parse(process.argv[2] ?? 'null') as Config,
      observePickup: (enqueuedAt) =>
        void send({ type: 'pickup', latencyMs: wallClockMs() - enqueuedAt }),
      fail,
    });
    await send({ type: 'ready' });
  } catch (error) {
    fail(error);
  }
}
