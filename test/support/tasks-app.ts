import type { ModuleMetadata, Provider } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  type TaskBackendConfig,
  type TasksModuleOptions,
} from '../../lib/index.js';
import type { TaskWorker } from '../../lib/worker/task-worker.js';
import {
  WorkerFactory,
  type WorkerRequest,
} from '../../lib/worker/worker-factory.service.js';
import { bootApp } from './boot-app.js';

export interface TasksAppOptions {
  /** The default DatabaseBackend's DataSource; omitted, it uses the app's `DataSource` provider. */
  dataSource?: DataSource;
  /** The default DatabaseBackend's table. */
  tableName?: string;
  /** The default DatabaseBackend's lease. */
  leaseMs?: number;
  /** Backends besides the default DatabaseBackend (a `default` here replaces it). */
  backends?: Record<string, TaskBackendConfig>;
  providers?: Provider[];
  /** Provided as the app's `DataSource` (after `providers`). */
  provideDataSource?: DataSource;
  imports?: ModuleMetadata['imports'];
  /** The rest of `TasksModule.forRoot()`'s options. */
  extraOptions?: Omit<TasksModuleOptions, 'backends'>;
  /** Keep Nest's logger on (by default the app logs nothing). */
  logger?: boolean;
}

/**
 * Boots and inits a testing module around `TasksModule.forRoot()` whose
 * `default` backend is a DatabaseBackend accepting any queue; closes it if
 * `init()` fails.
 */
export async function bootTasksApp(
  options: TasksAppOptions = {},
): Promise<TestingModule> {
  const { dataSource, tableName, leaseMs } = options;
  const databaseOptions: Record<string, unknown> = {};
  if (dataSource !== undefined) databaseOptions.dataSource = dataSource;
  if (tableName !== undefined) databaseOptions.tableName = tableName;
  if (leaseMs !== undefined) databaseOptions.leaseMs = leaseMs;
  const { moduleRef } = await bootApp({
    tasks: {
      ...options.extraOptions,
      backends: {
        default: {
          backend: DatabaseBackend,
          queues: [],
          options: databaseOptions,
        },
        ...options.backends,
      },
    },
    imports: options.imports,
    providers: [
      ...(options.providers ?? []),
      ...(options.provideDataSource
        ? [{ provide: DataSource, useValue: options.provideDataSource }]
        : []),
    ],
    logger: options.logger,
  });
  return moduleRef;
}

/** A batch worker of the app (polling every 20 ms unless `request` says otherwise). */
export function batchWorker(
  moduleRef: TestingModule,
  request: WorkerRequest = {},
): TaskWorker {
  return moduleRef
    .get(WorkerFactory)
    .create({ batch: true, intervalMs: 20, ...request });
}
