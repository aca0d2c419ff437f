import {
  Inject,
  Optional,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { TasksModuleOptions } from '../interfaces/tasks-module-options.interface.js';
import {
  LOGGER_CONTEXT,
  TASKS_BACKEND_OVERRIDE,
  TASKS_MODULE_OPTIONS,
} from '../tasks.constants.js';
import type { TaskWorker, WorkerExit } from './task-worker.js';
import { WorkerFactory } from './worker-factory.service.js';

let suppressed = false;

/** Keeps `TasksModule.forRoot({ worker })` from starting a second worker inside `tasks:*` commands. */
export function suppressInProcessWorker(): void {
  suppressed = true;
}

/** The worker of `TasksModule.forRoot({ worker })`: started on bootstrap, drained on shutdown. */
@Injectable()
export class InProcessWorker
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger(LOGGER_CONTEXT);
  private worker?: TaskWorker;
  private running?: Promise<WorkerExit | undefined>;

  constructor(
    @Inject(TASKS_MODULE_OPTIONS) private readonly options: TasksModuleOptions,
    private readonly factory: WorkerFactory,
    /** Set by TasksTestingModule: its DummyBackends are run by TaskQueueTester instead. */
    @Optional()
    @Inject(TASKS_BACKEND_OVERRIDE)
    private readonly testing?: unknown,
  ) {}

  onApplicationBootstrap(): void {
    const config = this.options.worker;
    if (!config || suppressed || this.testing) return;
    const worker = this.factory.create({
      backend: config.backend,
      queues: config.queues ?? null,
      concurrency: config.concurrency,
    });
    this.worker = worker;
    this.running = worker.run().catch((error: unknown) => {
      this.logger.error(
        `The in-process worker stopped: ${(error as Error)?.message ?? error}. Run 'nest-tasks tasks:check' to diagnose.`,
        (error as Error)?.stack,
      );
      return undefined;
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.worker?.stop();
    await this.running;
  }
}
