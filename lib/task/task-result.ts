import { TaskResultNotReadyError } from '../errors/task-result-not-ready.error.js';
import { TaskMessages } from '../tasks.messages.js';
import type { TaskDefinition } from './task-definition.js';
import type { TaskErrorRecord } from './task-error-record.js';
import type { TaskResultData } from './task-result-data.js';
import { isFinishedStatus, TaskResultStatus } from './task-result-status.js';

/** Reloads a result's stored state from its backend. */
export type TaskResultLoader = (id: string) => Promise<TaskResultData>;

/** One enqueued run of a task, as its backend last reported it. */
export class TaskResult<R = unknown> {
  /** @internal Results come from enqueue and getResult. */
  constructor(
    readonly task: TaskDefinition<any, R>,
    private data: TaskResultData,
    private readonly load: TaskResultLoader,
  ) {}

  get id(): string {
    return this.data.id;
  }
  get status(): TaskResultStatus {
    return this.data.status;
  }
  /** The alias of the backend that holds this result. */
  get backend(): string {
    return this.data.backend;
  }
  get args(): unknown[] {
    return this.data.args;
  }
  get enqueuedAt(): Date | null {
    return this.data.enqueuedAt;
  }
  get startedAt(): Date | null {
    return this.data.startedAt;
  }
  get finishedAt(): Date | null {
    return this.data.finishedAt;
  }
  get lastAttemptedAt(): Date | null {
    return this.data.lastAttemptedAt;
  }
  get attempts(): number {
    return this.data.attempts;
  }
  get workerIds(): string[] {
    return this.data.workerIds;
  }
  /** One entry per failed attempt. */
  get errors(): TaskErrorRecord[] {
    return this.data.errors;
  }
  get progress(): number | null {
    return this.data.progress;
  }
  get metadata(): Record<string, unknown> {
    return this.data.metadata;
  }
  get isFinished(): boolean {
    return isFinishedStatus(this.data.status);
  }

  /** The task's return value; throws `TaskResultNotReadyError` unless the result is SUCCESSFUL. */
  get returnValue(): R {
    if (this.data.status !== TaskResultStatus.SUCCESSFUL) {
      throw new TaskResultNotReadyError(
        TaskMessages.resultNotReady(
          this.data.id,
          this.task.name,
          this.data.status,
        ),
      );
    }
    return this.data.returnValue as R;
  }

  /** Reloads this result from its backend, in place. */
  async refresh(): Promise<void> {
    this.data = await this.load(this.data.id);
  }

  /** @internal The stored state this result reflects. */
  get snapshot(): TaskResultData {
    return this.data;
  }

  /** @internal Replaces the state after a backend changed it. */
  update(data: TaskResultData): void {
    this.data = data;
  }

  toJSON(): Record<string, unknown> {
    const { taskName, ...rest } = this.data;
    return { ...rest, task: taskName, isFinished: this.isFinished };
  }
}
