import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { TasksModuleOptions } from '../interfaces/tasks-module-options.interface.js';
import {
  LOGGER_CONTEXT,
  TASKS_IN_PROCESS_WORKER_DISABLED,
  TASKS_MODULE_OPTIONS,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskWorker, WorkerExit } from './task-worker.js';
import { WorkerFactory } from './worker-factory.service.js';

/** The worker of `TasksModule.forRoot({ worker })`: started on bootstrap, drained on shutdown. */
@Injectable()
export class InProcessWorker {
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private worker?: TaskWorker;
  private running?: Promise<WorkerExit | undefined>;

  constructor(
    @Inject(TASKS_MODULE_OPTIONS) private readonly options: TasksModuleOptions,
    private readonly factory: WorkerFactory,
    /**
     * Provided (true) by the `tasks:*` commands, which run their own worker,
     * and by TasksTestingModule, whose DummyBackends TaskQueueTester runs.
     */
    @Optional()
    @Inject(TASKS_IN_PROCESS_WORKER_DISABLED)
    private readonly disabled?: boolean,
  ) {}

  /** Starts the configured worker, if any and not disabled. */
  start(): void {
    const config = this.options.worker;
    if (!config || this.disabled) return;
    const worker = this.factory.create({
      backend: config.backend,
      queues: config.queues ?? null,
      concurrency: config.concurrency,
    });
    this.worker = worker;
    this.running = worker.run().catch((error: unknown) => {
      this.logger.error(
        TaskMessages.inProcessWorkerStopped(error),
        (error as Error)?.stack,
      );
      return undefined;
    });
  }

  /** Stops claiming and waits for running tasks (within the shutdown timeout). */
  async stop(): Promise<void> {
    this.worker?.stop();
    await this.running;
  }
}
