import {
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { TaskExplorer } from './discovery/task-explorer.js';
import { TaskBackends } from './dispatch/task-backends.js';
import { TaskDispatcher } from './dispatch/task-dispatcher.js';
import { TaskOutbox } from './dispatch/task-outbox.js';
import { loadTaskTracing } from './tracing/task-tracing.js';
import { InProcessWorker } from './worker/in-process-worker.service.js';

/**
 * The module's start-up and shutdown, step by step: collect, then start,
 * then stop. Every step that is not configuration happens here, in a named
 * lifecycle hook, never in a constructor.
 */
@Injectable()
export class TasksLifecycle
  implements
    OnModuleInit,
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  constructor(
    private readonly explorer: TaskExplorer,
    private readonly dispatcher: TaskDispatcher,
    private readonly worker: InProcessWorker,
    private readonly backends: TaskBackends,
    private readonly outbox: TaskOutbox,
  ) {}

  /** Collects `@Task()` and `@OnTaskEvent()` methods, attaches the backends, builds and validates the definitions; looks for OpenTelemetry. */
  async onModuleInit(): Promise<void> {
    await loadTaskTracing();
    this.explorer.collect();
    this.dispatcher.attachBackends();
    this.dispatcher.defineTasks();
  }

  /** Starts the in-process worker, when one is configured. */
  onApplicationBootstrap(): void {
    this.worker.start();
  }

  /** Lets the in-process worker finish its running tasks. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker.stop();
  }

  /** Releases the backends' and the outboxes' connections. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.backends.close(), this.outbox.close()]);
  }
}
