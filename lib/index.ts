import 'reflect-metadata';

export { TasksModule } from './tasks.module.js';
export { TaskQueue } from './task-queue.service.js';
export { Task } from './decorators/task.decorator.js';
export { OnTaskEvent } from './decorators/on-task-event.decorator.js';
export type { TaskEvent, TaskEventName } from './task/task-event.js';
export type {
  TaskOptions,
  TaskBackendConfig,
  TasksModuleOptions,
  TasksModuleAsyncOptions,
  TasksOptionsFactory,
  TasksWorkerOptions,
} from './interfaces/index.js';
export {
  TaskDefinition,
  type TaskUsingOptions,
  type RetryDelay,
} from './task/task-definition.js';
export { TaskResult } from './task/task-result.js';
export type { TaskErrorRecord } from './task/task-error-record.js';
export type { TaskResultData } from './task/task-result-data.js';
export { TaskResultStatus } from './task/task-result-status.js';
export { TaskContext } from './task/task-context.js';
export type {
  TaskArgs,
  TaskReturn,
  TaskMethodName,
  TaskClass,
} from './task/task-method.types.js';
export {
  TaskBackend,
  type TaskBackendClass,
  type TaskBackendSettings,
  type TaskCheckMessage,
  type TaskOutboxOptions,
} from './backends/backend.js';
export type { TaskBackendHost } from './backends/backend-host.js';
export {
  attemptCancelled,
  attemptFailed,
  attemptInterrupted,
  attemptStarted,
  attemptSucceeded,
  defaultRetryDelay,
  retryDelayFor,
  type AttemptVerdict,
} from './execution/attempt-policy.js';
export type {
  WorkerQueue,
  ClaimedTask,
  AttemptRecord,
  CompletionReport,
  HeartbeatReport,
  HeldTask,
  WorkerInfo,
} from './backends/worker-queue.js';
export type {
  BackendAdmin,
  BackendStatus,
  PruneRequest,
  ScheduleTickStatus,
  WorkerStatus,
} from './backends/backend-admin.js';
export type {
  ActivityBucket,
  ResultFilter,
  ResultPage,
  ResultQuery,
  ResultsAdmin,
  RetryOutcome,
} from './backends/results-admin.js';
export { ImmediateBackend } from './backends/immediate/immediate.backend.js';
export { DummyBackend } from './backends/dummy/dummy.backend.js';
export * from './errors/index.js';
export * from './backends/database/index.js';
export { runTasksCli } from './cli/run-tasks-cli.js';
export type { TaskTransactionOptions } from './transactions/task-transactions.service.js';
