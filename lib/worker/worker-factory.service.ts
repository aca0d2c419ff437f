import { Injectable } from '@nestjs/common';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskBackends } from '../backends/task-backends.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { TaskExecutor } from '../execution/task-executor.js';
import { newWorkerId } from '../execution/worker-id.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskWorker } from './task-worker.js';
import {
  DEFAULT_WORKER_OPTIONS,
  type WorkerOptions,
} from './worker-options.js';
import { isWorkerSource } from './worker-source.js';

/** What a caller may choose about a worker; the rest has defaults. */
export interface WorkerRequest extends Partial<WorkerOptions> {
  /** Backend alias. Default `'default'`. */
  backend?: string;
}

/** Builds workers for a backend alias: used by `tasks:work`, the in-process worker and tests. */
@Injectable()
export class WorkerFactory {
  constructor(
    private readonly backends: TaskBackends,
    private readonly executor: TaskExecutor,
    private readonly events: TaskEventBus,
  ) {}

  create(request: WorkerRequest = {}): TaskWorker {
    const alias = request.backend ?? DEFAULT_BACKEND_ALIAS;
    const backend = this.backends.get(alias);
    if (!isWorkerSource(backend)) {
      throw new InvalidTaskBackendError(
        `Backend '${alias}' (${backend.constructor.name}) has no queue for workers to consume; ` +
          `tasks:work and the in-process worker need a backend such as DatabaseBackend.`,
      );
    }
    const queues =
      request.queues === undefined ||
      request.queues === null ||
      request.queues.length === 0 ||
      request.queues.includes('*')
        ? null
        : request.queues;
    for (const queue of queues ?? []) {
      if (backend.queues.length > 0 && !backend.queues.includes(queue)) {
        throw new InvalidTaskBackendError(
          `Backend '${alias}' does not accept queue '${queue}' (its queues: ${backend.queues.join(', ')}); pick queues it lists, or '*'.`,
        );
      }
    }
    const positive = (
      name: string,
      value: number | null | undefined,
      fallback: number | null,
    ) => {
      if (value === undefined || value === null) return fallback;
      if (
        !Number.isInteger(value) ||
        value < (name === 'intervalMs' || name === 'shutdownTimeoutMs' ? 0 : 1)
      ) {
        throw new InvalidTaskBackendError(
          `Worker option '${name}' must be a positive integer, got ${value}.`,
        );
      }
      return value;
    };
    return new TaskWorker(
      backend,
      {
        executor: this.executor,
        emit: (event, result) => this.events.emit(event, result),
      },
      {
        queues,
        concurrency: positive(
          'concurrency',
          request.concurrency,
          DEFAULT_WORKER_OPTIONS.concurrency,
        )!,
        intervalMs: positive(
          'intervalMs',
          request.intervalMs,
          DEFAULT_WORKER_OPTIONS.intervalMs,
        )!,
        shutdownTimeoutMs: positive(
          'shutdownTimeoutMs',
          request.shutdownTimeoutMs,
          DEFAULT_WORKER_OPTIONS.shutdownTimeoutMs,
        )!,
        maxTasks: positive('maxTasks', request.maxTasks, null),
        batch: request.batch ?? false,
        workerId: request.workerId ?? newWorkerId(),
      },
    );
  }
}
