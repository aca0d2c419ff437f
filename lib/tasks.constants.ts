export const TASK_METADATA = 'nestjs-tasks:task';
export const TASK_EVENT_METADATA = 'nestjs-tasks:task-event';
export const TASKS_MODULE_OPTIONS = Symbol('TASKS_MODULE_OPTIONS');
/** A backend class that replaces every configured one (TasksTestingModule). */
export const TASKS_BACKEND_OVERRIDE = Symbol('TASKS_BACKEND_OVERRIDE');
/** The backends of an application that configures none (`{ default: ImmediateBackend }`), provided by TasksModule. */
export const TASKS_DEFAULT_BACKENDS = Symbol('TASKS_DEFAULT_BACKENDS');
/** The `OutboxStoreOpener` of the outboxes of backend aliases with `outbox`, provided by TasksModule. */
export const TASKS_OUTBOX_STORE_OPENER = Symbol('TASKS_OUTBOX_STORE_OPENER');
/** `true` keeps `TasksModule.forRoot({ worker })` from starting its in-process worker. */
export const TASKS_IN_PROCESS_WORKER_DISABLED = Symbol(
  'TASKS_IN_PROCESS_WORKER_DISABLED',
);

/** `true` lets `TaskQueue.transaction()` run without a database when no DataSource is registered (TasksTestingModule). */
export const TASKS_TRANSACTIONS_WITHOUT_DATABASE = Symbol(
  'TASKS_TRANSACTIONS_WITHOUT_DATABASE',
);

export const DEFAULT_BACKEND_ALIAS = 'default';
export const DEFAULT_QUEUE_NAME = 'default';
export const DEFAULT_PRIORITY = 0;
export const MIN_PRIORITY = -100;
export const MAX_PRIORITY = 100;
export const LOGGER_CONTEXT = 'Tasks';
