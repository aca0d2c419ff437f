import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { TaskBackends } from '../dispatch/task-backends.js';
import { TaskOutbox } from '../dispatch/task-outbox.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import type {
  TasksModuleOptions,
  TasksWorkerOptions,
} from '../interfaces/tasks-module-options.interface.js';
import {
  DEFAULT_BACKEND_ALIAS,
  LOGGER_CONTEXT,
  TASKS_IN_PROCESS_WORKER_DISABLED,
  TASKS_MODULE_OPTIONS,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskWorker } from './task-worker.js';
import { WakeSignal } from './wake-signal.js';
import { WorkerFactory } from './worker-factory.service.js';

/** Backoff between restarts of a failed in-process worker: 1 s, doubling, at most a minute. */
const restartDelay = (failures: number) =>
  Math.min(1000 * 2 ** (failures - 1), 60_000);

/**
 * The worker of `TasksModule.forRoot({ worker })`: started on bootstrap,
 * restarted with backoff when it fails (the database down, tables created
 * after the app started), drained on shutdown.
 */
@Injectable()
export class InProcessWorker {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private worker?: TaskWorker;
  private running?: Promise<void>;
  private stopped = false;
  private readonly restart = new WakeSignal();

  constructor(
    @Inject(TASKS_MODULE_OPTIONS) private readonly options: TasksModuleOptions,
    private readonly factory: WorkerFactory,
    private readonly backends: TaskBackends,
    private readonly outbox: TaskOutbox,
    /**
     * Provided (true) by the `tasks:*` commands, which run their own worker,
     * and by TasksTestingModule, whose DummyBackends TaskQueueTester runs.
     */
    @Optional()
    @Inject(TASKS_IN_PROCESS_WORKER_DISABLED)
    private readonly disabled?: boolean,
  ) {}

  /** Starts the configured worker, if any and not disabled. A configuration mistake throws (failing bootstrap). */
  start(): void {
    const config = this.options.worker;
    if (!config || this.disabled) return;
    this.worker = this.create(config);
    this.running = this.keepRunning(config);
  }

  /** Stops claiming and waits for running tasks (within the shutdown timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.worker?.stop();
    this.restart.wake();
    await this.running;
  }

  private create(config: TasksWorkerOptions): TaskWorker {
    return this.factory.create({
      backend: config.backend,
      queues: config.queues ?? null,
      concurrency: config.concurrency,
      prefetch: config.prefetch,
    });
  }

  /**
   * Refuses to run on a backend whose check (or its outbox's) finds an
   * error (tables missing or behind this version): a worker there could
   * claim tasks whose outcome it then cannot write. Checked at each start,
   * so migrations run while the application is up are picked up at the
   * next restart.
   */
  private async ensureReady(config: TasksWorkerOptions): Promise<void> {
    const backend = this.backends.get(config.backend ?? DEFAULT_BACKEND_ALIAS);
    const messages = [
      ...(await backend.check()),
      ...(await this.outbox.check(backend)),
    ];
    const errors = messages.filter((message) => message.level === 'error');
    if (errors.length > 0)
      throw new InvalidTaskBackendError(
        errors.map((error) => error.message).join(' '),
      );
  }

  /** Runs the worker; after a failure, logs it once and starts a new one after a backoff. */
  private async keepRunning(config: TasksWorkerOptions): Promise<void> {
    for (let failures = 0; !this.stopped;) {
      try {
        await this.ensureReady(config);
        await this.worker!.run();
        return;
      } catch (error) {
        failures += 1;
        const delay = restartDelay(failures);
        const message = `${TaskMessages.inProcessWorkerStopped(error)} ${TaskMessages.inProcessWorkerRestart(delay)}`;
        if (failures === 1) this.logger.error(message, (error as Error)?.stack);
        else this.logger.error(message);
        await this.restart.sleep(delay);
        if (!this.stopped) this.worker = this.create(config);
      }
    }
  }
}
