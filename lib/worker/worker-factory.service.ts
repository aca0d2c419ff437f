import { Injectable } from '@nestjs/common';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskBackends } from '../dispatch/task-backends.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { TaskExecutor } from '../execution/task-executor.js';
import { TaskTransactions } from '../transactions/task-transactions.service.js';
import { newWorkerId } from '../execution/worker-id.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';
import { TaskWorker } from './task-worker.js';
import { resolveWorkerOptions, type WorkerRequest } from './worker-options.js';

export type { WorkerRequest } from './worker-options.js';

/** Builds workers for a backend alias: used by `tasks:work`, the in-process worker and tests. */
@Injectable()
export class WorkerFactory {
  constructor(
    private readonly backends: TaskBackends,
    private readonly executor: TaskExecutor,
    private readonly events: TaskEventBus,
    private readonly transactions: TaskTransactions,
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
    return new TaskWorker(
      queue,
      {
        executor: this.executor,
        emit: (event, result) => this.events.emit(event, result),
        joinTransaction: (manager, work) =>
          this.transactions.runIn(manager, work),
      },
      resolveWorkerOptions(
        { ...request, backend: alias },
        backend.queues,
        newWorkerId,
      ),
    );
  }
}
