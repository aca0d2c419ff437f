import type {
  ModuleMetadata,
  InjectionToken,
  OptionalFactoryDependency,
  Type,
} from '@nestjs/common';
import type {
  TaskBackendClass,
  TaskOutboxOptions,
} from '../backends/backend.js';

/** One entry of `TasksModuleOptions.backends`. */
export interface TaskBackendConfig {
  /** The backend class, e.g. `DatabaseBackend`. */
  backend: TaskBackendClass;
  /** Queue names this backend accepts; omitted means `['default']`, an empty list means any name. */
  queues?: string[];
  /** Backend-specific options. */
  options?: Record<string, unknown>;
  /** Hold enqueues made inside a transaction until it commits (default true). */
  enqueueOnCommit?: boolean;
  /**
   * Write enqueues made inside a transaction on this DataSource (which the
   * backend cannot join) to an outbox table in that transaction, relayed to
   * the backend after COMMIT — or, if this process dies first, by a worker:
   * nothing committed is lost.
   */
  outbox?: TaskOutboxOptions;
}

/** Runs a worker inside this process. */
export interface TasksWorkerOptions {
  backend?: string;
  queues?: string[];
  concurrency?: number;
  /** Claimed tasks kept ready beyond the free slots (at most; default: 10 × the concurrency; 0: none). */
  prefetch?: number;
}

export interface TasksModuleOptions {
  /** Alias → backend configuration. Omitted: `{ default: { backend: ImmediateBackend } }`. */
  backends?: Record<string, TaskBackendConfig>;
  /** Run a worker in this process, started on bootstrap and drained on shutdown. */
  worker?: TasksWorkerOptions;
  /** `'after-response'` holds enqueues made while handling an HTTP request until the handler succeeds. */
  requestLifecycle?: 'immediate' | 'after-response';
}

/** A class that supplies the module's options (`forRootAsync({ useClass })`). */
export interface TasksOptionsFactory {
  createTasksOptions(): TasksModuleOptions | Promise<TasksModuleOptions>;
}

/** `TasksModule.forRootAsync()`: exactly one of `useFactory`, `useClass` or `useExisting`. */
export interface TasksModuleAsyncOptions extends Pick<
  ModuleMetadata,
  'imports'
> {
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  /**
   * Names of the `@nestjs/typeorm` DataSources a DatabaseBackend of the
   * resolved options will use, so that their `autoLoadEntities` includes the
   * task entities (forRoot finds them in its options; forRootAsync cannot).
   */
  dataSources?: string[];
  useFactory?: (
    ...args: any[]
  ) => TasksModuleOptions | Promise<TasksModuleOptions>;
  /** A class implementing `TasksOptionsFactory`, instantiated inside the module. */
  useClass?: Type<TasksOptionsFactory>;
  /** An existing provider implementing `TasksOptionsFactory` (from `imports`). */
  useExisting?: Type<TasksOptionsFactory>;
}
