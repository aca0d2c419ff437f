import { Injectable } from '@nestjs/common';
import type { TaskBackend } from '../backends/backend.js';
import type { WorkerQueue } from '../backends/worker-queue.js';
import { TaskRegistry } from '../discovery/task-registry.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskBackends } from '../dispatch/task-backends.js';
import { TaskOutbox } from '../dispatch/task-outbox.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { TaskExecutor } from '../execution/task-executor.js';
import { TaskTransactions } from '../transactions/task-transactions.service.js';
import { newWorkerId } from '../execution/worker-id.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { LocalTickClaims } from './local-tick-claims.js';
import { TaskWorker } from './task-worker.js';
import type { PeriodicTask, PeriodicTasks } from './tick-scheduler.js';
import {
  resolveWorkerOptions,
  type WorkerOptions,
  type WorkerRequest,
} from './worker-options.js';

export type { WorkerRequest } from './worker-options.js';

/** Builds workers for a backend alias: used by `tasks:work`, the in-process worker and tests. */
@Injectable()
export class WorkerFactory {
  /** Ticks of backends that cannot decide them, decided among this process's workers. */
  private readonly localTicks = new LocalTickClaims();

  constructor(
    private readonly backends: TaskBackends,
    private readonly executor: TaskExecutor,
    private readonly events: TaskEventBus,
    private readonly transactions: TaskTransactions,
    private readonly registry: TaskRegistry,
    private readonly outbox: TaskOutbox,
  ) {}

  create(request: WorkerRequest = {}): TaskWorker {
    const alias = request.backend ?? DEFAULT_BACKEND_ALIAS;
    const backend = this.backends.get(alias);
    const queue = backend.workerQueue();
    if (!queue) {
      throw new InvalidTaskBackendError(
        TaskMessages.noWorkerQueue(alias, backend.constructor.name),
      );
    }
    const options = resolveWorkerOptions(
      { ...request, backend: alias },
      backend.queues,
      newWorkerId,
    );
    return new TaskWorker(
      queue,
      {
        executor: this.executor,
        emit: (event, result) => this.events.emit(event, result),
        joinTransaction: (manager, work) =>
          this.transactions.runIn(manager, work),
      },
      options,
      this.periodicTasks(backend, queue, options),
      backend.outbox ? () => this.outbox.sweep(backend) : null,
    );
  }

  /**
   * The periodic tasks a worker enqueues: those of its backend on the
   * queues it consumes. Their ticks are decided by the store where the
   * queue can (`claimTick`), else among the workers of this process.
   */
  private periodicTasks(
    backend: TaskBackend,
    queue: WorkerQueue,
    options: WorkerOptions,
  ): PeriodicTasks {
    const tasks: PeriodicTask[] = this.registry
      .periodic()
      .filter(
        ({ definition }) =>
          definition.backend === options.backend &&
          (options.queues === null ||
            options.queues.includes(definition.queueName)),
      )
      .map(({ name, schedule, definition }) => ({
        name,
        schedule,
        enqueue: async (tick, transaction) => {
          await definition
            .using({
              transaction,
              metadata: { scheduledFor: tick.toISOString() },
            })
            .enqueue();
        },
      }));
    const claim: PeriodicTasks['claim'] = queue.claimTick
      ? (task, tick) =>
          queue.claimTick!(task.name, tick, (transaction) =>
            task.enqueue(tick, transaction),
          )
      : (task, tick) => this.localTicks.claim(backend, task, tick);
    return { tasks, claim };
  }
}
