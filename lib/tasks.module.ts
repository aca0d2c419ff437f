import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { TaskTransactions } from './transactions/task-transactions.service.js';
import { RequestLifecycleInterceptor } from './transactions/request-lifecycle.interceptor.js';
import { TaskBackends } from './backends/task-backends.js';
import { DatabaseBackend } from './backends/database/database.backend.js';
import { TaskDispatcher } from './dispatch/task-dispatcher.js';
import { TaskExplorer } from './discovery/task-explorer.js';
import { TaskRegistry } from './discovery/task-registry.js';
import { TaskEventBus } from './events/task-event-bus.js';
import { TaskExecutor } from './execution/task-executor.js';
import type {
  TasksModuleAsyncOptions,
  TasksModuleOptions,
} from './interfaces/tasks-module-options.interface.js';
import { TaskQueue } from './task-queue.service.js';
import { TASKS_MODULE_OPTIONS } from './tasks.constants.js';
import { WorkerFactory } from './worker/worker-factory.service.js';
import { InProcessWorker } from './worker/in-process-worker.service.js';

const CORE_PROVIDERS: Provider[] = [
  TaskRegistry,
  TaskEventBus,
  TaskExecutor,
  TaskBackends,
  TaskDispatcher,
  TaskExplorer,
  TaskQueue,
  WorkerFactory,
  InProcessWorker,
  TaskTransactions,
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
    return TasksModule.create(backendImports, {
      provide: TASKS_MODULE_OPTIONS,
      useValue: options,
    });
  }

  static forRootAsync(options: TasksModuleAsyncOptions): DynamicModule {
    const entityImports = (options.dataSources ?? []).flatMap((dataSource) =>
      DatabaseBackend.moduleImports({ options: { dataSource } }),
    );
    return TasksModule.create([...(options.imports ?? []), ...entityImports], {
      provide: TASKS_MODULE_OPTIONS,
      useFactory: options.useFactory,
      inject: options.inject ?? [],
    });
  }

  private static create(
    imports: DynamicModule['imports'] & unknown[],
    optionsProvider: Provider,
  ): DynamicModule {
    return {
      module: TasksModule,
      global: true,
      imports: [DiscoveryModule, ...imports],
      providers: [optionsProvider, ...CORE_PROVIDERS],
      exports: EXPORTS,
    };
  }
}
