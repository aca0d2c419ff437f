import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { openDatabaseOutboxStore } from './backends/database/database-outbox-store.js';
import { registerTaskEntities } from './backends/database/task-entities.module.js';
import { DEFAULT_BACKENDS } from './backends/immediate/default-backends.js';
import { TaskExplorer } from './discovery/task-explorer.js';
import { TaskRegistry } from './discovery/task-registry.js';
import { TaskBackends } from './dispatch/task-backends.js';
import { TaskDispatcher } from './dispatch/task-dispatcher.js';
import { TaskOutbox } from './dispatch/task-outbox.js';
import { TaskEventBus } from './events/task-event-bus.js';
import { TaskExecutor } from './execution/task-executor.js';
import { InvalidTaskBackendError } from './errors/invalid-task-backend.error.js';
import type {
  TasksModuleAsyncOptions,
  TasksModuleOptions,
  TasksOptionsFactory,
} from './interfaces/tasks-module-options.interface.js';
import { TaskQueue } from './task-queue.service.js';
import {
  TASKS_DEFAULT_BACKENDS,
  TASKS_MODULE_OPTIONS,
  TASKS_OUTBOX_STORE_OPENER,
} from './tasks.constants.js';
import { TasksLifecycle } from './tasks.lifecycle.js';
import { TaskMessages } from './tasks.messages.js';
import { RequestLifecycleInterceptor } from './transactions/request-lifecycle.interceptor.js';
import { TaskTransactions } from './transactions/task-transactions.service.js';
import { InProcessWorker } from './worker/in-process-worker.service.js';
import { WorkerFactory } from './worker/worker-factory.service.js';

const CORE_PROVIDERS: Provider[] = [
  // The services know backends by their contracts: the concrete pieces they need come from here.
  { provide: TASKS_DEFAULT_BACKENDS, useValue: DEFAULT_BACKENDS },
  { provide: TASKS_OUTBOX_STORE_OPENER, useValue: openDatabaseOutboxStore },
  TaskRegistry,
  TaskEventBus,
  {
    provide: TaskExecutor,
    useFactory: (registry: TaskRegistry) => new TaskExecutor(registry),
    inject: [TaskRegistry],
  },
  TaskBackends,
  TaskOutbox,
  TaskDispatcher,
  TaskExplorer,
  TaskQueue,
  WorkerFactory,
  InProcessWorker,
  TaskTransactions,
  TasksLifecycle,
  { provide: APP_INTERCEPTOR, useClass: RequestLifecycleInterceptor },
];
const EXPORTS = [
  TaskQueue,
  TaskRegistry,
  TaskBackends,
  TaskExecutor,
  TaskEventBus,
  WorkerFactory,
  TASKS_MODULE_OPTIONS,
];

/** Registers tasks and backends for the whole application (global). */
@Module({})
export class TasksModule {
  static forRoot(options: TasksModuleOptions = {}): DynamicModule {
    const backendImports = Object.values(options.backends ?? {}).flatMap(
      (config) => config?.backend?.moduleImports?.(config) ?? [],
    );
    return TasksModule.create(backendImports, [
      { provide: TASKS_MODULE_OPTIONS, useValue: options },
    ]);
  }

  /** Options from a factory, a `TasksOptionsFactory` class, or an existing provider of one. */
  static forRootAsync(options: TasksModuleAsyncOptions): DynamicModule {
    const entityImports = (options.dataSources ?? []).map(registerTaskEntities);
    return TasksModule.create(
      [...(options.imports ?? []), ...entityImports],
      TasksModule.asyncOptionsProviders(options),
    );
  }

  private static asyncOptionsProviders(
    options: TasksModuleAsyncOptions,
  ): Provider[] {
    const { useFactory, useClass, useExisting } = options;
    const given = [useFactory, useClass, useExisting].filter(Boolean).length;
    if (given !== 1)
      throw new InvalidTaskBackendError(TaskMessages.badAsyncOptions(given));
    if (useFactory) {
      return [
        {
          provide: TASKS_MODULE_OPTIONS,
          useFactory,
          inject: options.inject ?? [],
        },
      ];
    }
    const factory = (useClass ?? useExisting)!;
    return [
      ...(useClass ? [{ provide: useClass, useClass }] : []),
      {
        provide: TASKS_MODULE_OPTIONS,
        useFactory: (source: TasksOptionsFactory) =>
          source.createTasksOptions(),
        inject: [factory],
      },
    ];
  }

  private static create(
    imports: DynamicModule['imports'] & unknown[],
    optionsProviders: Provider[],
  ): DynamicModule {
    return {
      module: TasksModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [...optionsProviders, ...CORE_PROVIDERS],
      exports: EXPORTS,
    };
  }
}
