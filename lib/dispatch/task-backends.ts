import { Inject, Injectable, Optional } from '@nestjs/common';
import { TaskBackend, type TaskBackendClass } from '../backends/backend.js';
import type { TaskBackendHost } from '../backends/backend-host.js';
import { resolveOutboxOptions } from '../backends/outbox-options.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import type {
  TaskBackendConfig,
  TasksModuleOptions,
} from '../interfaces/tasks-module-options.interface.js';
import {
  DEFAULT_BACKEND_ALIAS,
  TASKS_BACKEND_OVERRIDE,
  TASKS_DEFAULT_BACKENDS,
  TASKS_MODULE_OPTIONS,
} from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';

/** The configured backends, by alias. Construction only stores configuration (backends open lazily). */
@Injectable()
export class TaskBackends {
  private readonly byAlias = new Map<string, TaskBackend>();

  constructor(
    @Inject(TASKS_MODULE_OPTIONS) options: TasksModuleOptions,
    /** The backends when `options` configures none. */
    @Inject(TASKS_DEFAULT_BACKENDS)
    defaults: Readonly<Record<string, TaskBackendConfig>>,
    /** A backend class that stands in for every configured one (TasksTestingModule's DummyBackend). */
    @Optional() @Inject(TASKS_BACKEND_OVERRIDE) override?: TaskBackendClass,
  ) {
    const configs = options.backends ?? defaults;
    const aliases = Object.keys(configs);
    if (aliases.length === 0)
      throw new InvalidTaskBackendError(TaskMessages.noBackends());
    if (!aliases.includes(DEFAULT_BACKEND_ALIAS)) {
      throw new InvalidTaskBackendError(
        TaskMessages.defaultBackendMissing(aliases),
      );
    }
    for (const [alias, config] of Object.entries(configs)) {
      const backendClass = config?.backend;
      if (
        typeof backendClass !== 'function' ||
        !(backendClass.prototype instanceof TaskBackend)
      ) {
        throw new InvalidTaskBackendError(
          TaskMessages.notABackendClass(alias, backendClass),
        );
      }
      const {
        queues,
        options: backendOptions,
        enqueueOnCommit,
        outbox,
      } = config;
      if (outbox !== undefined) {
        resolveOutboxOptions(alias, outbox);
        if (enqueueOnCommit === false)
          throw new InvalidTaskBackendError(
            TaskMessages.outboxWithoutEnqueueOnCommit(alias),
          );
      }
      const backend = new (override ?? backendClass)(alias, {
        queues,
        options: backendOptions,
        enqueueOnCommit,
        // A stand-in (TasksTestingModule's DummyBackend) holds enqueues in memory instead.
        outbox: override ? undefined : outbox,
      });
      if (backend.outbox && !backend.supportsRelay)
        throw new InvalidTaskBackendError(
          TaskMessages.outboxNotSupported(alias, backend.constructor.name),
        );
      this.byAlias.set(alias, backend);
    }
  }

  /** The backend with this alias; `InvalidTaskBackendError` naming the task when unknown. */
  get(alias: string, taskName?: string): TaskBackend {
    const backend = this.byAlias.get(alias);
    if (!backend)
      throw new InvalidTaskBackendError(
        TaskMessages.unknownBackend(alias, this.aliases(), taskName),
      );
    return backend;
  }

  aliases(): string[] {
    return [...this.byAlias.keys()];
  }

  all(): TaskBackend[] {
    return [...this.byAlias.values()];
  }

  /** Hands every backend what it needs from the application. */
  attach(host: TaskBackendHost): void {
    for (const backend of this.byAlias.values()) backend.attach(host);
  }

  /** Releases every backend's connections. */
  async close(): Promise<void> {
    await Promise.all(this.all().map((backend) => backend.close()));
  }
}
