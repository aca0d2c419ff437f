import { Injectable } from '@nestjs/common';
import { DummyBackend } from '../backends/dummy/dummy.backend.js';
import { TaskBackends } from '../backends/task-backends.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { runInMemory } from '../execution/run-in-memory.js';
import { TaskExecutor } from '../execution/task-executor.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import type { TaskClass, TaskMethodName } from '../task/task-method.types.js';
import { TaskQueue } from '../task-queue.service.js';
import { TaskRegistry } from '../discovery/task-registry.js';

const TESTER_WORKER_ID = 'tasks-testing';

/** Inspects and runs what the application enqueued on the `DummyBackend`s of `TasksTestingModule`. */
@Injectable()
export class TaskQueueTester {
  constructor(
    private readonly backends: TaskBackends,
    private readonly queue: TaskQueue,
    private readonly executor: TaskExecutor,
    private readonly events: TaskEventBus,
    private readonly registry: TaskRegistry,
  ) {}

  /** Results enqueued so far, on every backend, optionally only those of one task. */
  enqueued<C>(
    taskClass?: TaskClass<C>,
    method?: TaskMethodName<C>,
  ): TaskResult<any>[] {
    const all = this.dummies().flatMap((backend) => backend.results);
    if (!taskClass) return all;
    const names = method
      ? [this.queue.task(taskClass, method).name]
      : this.taskNamesOf(taskClass as TaskClass<unknown>);
    return all.filter((result) => names.includes(result.task.name));
  }

  /**
   * Runs every READY result, highest priority first, then in enqueue order,
   * until none is left (tasks enqueued by tasks run too). Returns those run.
   */
  async runAll(): Promise<TaskResult<any>[]> {
    const ran: TaskResult<any>[] = [];
    for (let next = this.nextReady(); next; next = this.nextReady()) {
      await runInMemory(
        next,
        {
          executor: this.executor,
          emit: (event, result) => this.events.emit(event, result),
        },
        TESTER_WORKER_ID,
      );
      ran.push(next);
    }
    return ran;
  }

  /** Forgets every result on every backend. */
  clear(): void {
    for (const backend of this.dummies()) backend.clear();
  }

  private nextReady(): TaskResult<any> | undefined {
    const ready = this.enqueued().filter(
      (result) => result.status === TaskResultStatus.READY,
    );
    return ready.reduce<TaskResult<any> | undefined>(
      (best, result) =>
        best === undefined || result.task.priority > best.task.priority
          ? result
          : best,
      undefined,
    );
  }

  private dummies(): DummyBackend[] {
    return this.backends
      .all()
      .filter(
        (backend): backend is DummyBackend => backend instanceof DummyBackend,
      );
  }

  /** Names of the registered tasks among the class's methods, inherited ones included. */
  private taskNamesOf(taskClass: TaskClass<unknown>): string[] {
    return this.registry
      .all()
      .filter((task) => task.instance instanceof taskClass)
      .map((task) => task.name);
  }
}
