import { Injectable, Optional, type OnModuleInit } from '@nestjs/common';
import { DummyBackend } from '../backends/dummy/dummy.backend.js';
import { TaskBackends } from '../dispatch/task-backends.js';
import { TaskRegistry } from '../discovery/task-registry.js';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskEventBus } from '../events/task-event-bus.js';
import { runAttemptInMemory } from '../execution/run-in-memory.js';
import { TaskExecutor } from '../execution/task-executor.js';
import type { TaskResult } from '../task/task-result.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import type { TaskClass, TaskMethodName } from '../task/task-method.types.js';
import { TaskQueue } from '../task-queue.service.js';
import { TaskMessages } from '../tasks.messages.js';

const TESTER_WORKER_ID = 'tasks-testing';

/** Options of `TaskQueueTester.runAll()`. */
export interface RunAllOptions {
  /** Also run results that are not due yet: a future `runAfter`, or a retry waiting its `retryDelay`. Default false. */
  includeDeferred?: boolean;
}

/** Inspects and runs what the application enqueued on the `DummyBackend`s of `TasksTestingModule`. */
@Injectable()
export class TaskQueueTester implements OnModuleInit {
  /** When each retried result becomes due again. */
  private readonly retryAt = new Map<string, number>();

  constructor(
    @Optional() private readonly backends?: TaskBackends,
    @Optional() private readonly queue?: TaskQueue,
    @Optional() private readonly executor?: TaskExecutor,
    @Optional() private readonly events?: TaskEventBus,
    @Optional() private readonly registry?: TaskRegistry,
  ) {}

  onModuleInit(): void {
    if (!this.backends)
      throw new InvalidTaskBackendError(
        TaskMessages.testingWithoutTasksModule(),
      );
  }

  /** Results enqueued so far, on every backend, optionally only those of one task. */
  enqueued<C>(
    taskClass?: TaskClass<C>,
    method?: TaskMethodName<C>,
  ): TaskResult<any>[] {
    const all = this.dummies().flatMap((backend) => backend.results);
    if (!taskClass) return all;
    const names = method
      ? [this.queue!.task(taskClass, method).name]
      : this.taskNamesOf(taskClass as TaskClass<unknown>);
    return all.filter((result) => names.includes(result.task.name));
  }

  /**
   * Runs every READY result that is due, highest priority first, then in
   * enqueue order, until none is left (tasks enqueued by tasks run too).
   * Results whose `runAfter` is in the future, and retries waiting their
   * `retryDelay`, wait unless `includeDeferred` is set. Returns those run.
   */
  async runAll(options: RunAllOptions = {}): Promise<TaskResult<any>[]> {
    const ran: TaskResult<any>[] = [];
    const runner = {
      executor: this.executor!,
      emit: (event: Parameters<TaskEventBus['emit']>[0], result: TaskResult) =>
        this.events!.emit(event, result),
    };
    for (
      let next = this.nextReady(options);
      next;
      next = this.nextReady(options)
    ) {
      const backend = this.backends!.get(next.backend) as DummyBackend;
      const { retryAt } = await runAttemptInMemory(
        next,
        runner,
        TESTER_WORKER_ID,
        backend.cancelSignal(next.id),
      );
      if (retryAt) this.retryAt.set(next.id, retryAt.getTime());
      else this.retryAt.delete(next.id);
      if (!ran.includes(next)) ran.push(next);
    }
    return ran;
  }

  /** Forgets every result on every backend. */
  clear(): void {
    this.retryAt.clear();
    for (const backend of this.dummies()) backend.clear();
  }

  private nextReady({
    includeDeferred = false,
  }: RunAllOptions): TaskResult<any> | undefined {
    const now = Date.now();
    const due = (result: TaskResult<any>) =>
      includeDeferred ||
      Math.max(
        result.snapshot.runAfter?.getTime() ?? 0,
        this.retryAt.get(result.id) ?? 0,
      ) <= now;
    const ready = this.enqueued().filter(
      (result) => result.status === TaskResultStatus.READY && due(result),
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
    return (this.backends?.all() ?? []).filter(
      (backend): backend is DummyBackend => backend instanceof DummyBackend,
    );
  }

  /** Names of the registered tasks among the class's methods, inherited ones included. */
  private taskNamesOf(taskClass: TaskClass<unknown>): string[] {
    return this.registry!.all()
      .filter((task) => task.instance instanceof taskClass)
      .map((task) => task.name);
  }
}
