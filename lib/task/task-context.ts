import type { EntityManager } from 'typeorm';
import { TaskMessages } from '../tasks.messages.js';
import { findJsonProblem } from './json-value.js';
import type { TaskResult } from './task-result.js';

/** Saves progress of a running attempt where other processes can read it. */
export type ProgressSink = (
  progress: number,
  metadata: Record<string, unknown>,
) => Promise<void>;

/** What a `takesContext` task receives as its first argument. */
export class TaskContext {
  /** @internal Contexts are built by the library for each attempt. */
  constructor(
    readonly taskResult: TaskResult<unknown>,
    /** The attempt being run, 1-based. */
    readonly attempt: number,
    private readonly saveProgress: ProgressSink,
    /**
     * Aborted when this attempt should stop: it ran past the task's
     * `timeout`, or its worker is shutting down and aborts running tasks.
     * JavaScript cannot stop a function from outside: long tasks check it
     * (or pass it to fetch and friends) to stop early.
     */
    readonly signal: AbortSignal = new AbortController().signal,
    /**
     * For `transactional` tasks, the attempt's transaction: write through
     * it, and enqueues made while the task runs join it. Null otherwise.
     */
    readonly manager: EntityManager | null = null,
  ) {}

  /** The result's metadata as last saved. */
  get metadata(): Record<string, unknown> {
    return this.taskResult.metadata;
  }

  /**
   * Records progress (a fraction in [0, 1]) and merges `metadata` into the
   * result's metadata, so that `getResult`/`refresh` elsewhere see them.
   */
  async setProgress(
    fraction: number,
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const name = this.taskResult.task.name;
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
      throw new RangeError(TaskMessages.badProgress(name, fraction));
    }
    const problem =
      metadata === undefined ? null : findJsonProblem(metadata, 'metadata');
    if (problem) throw new TypeError(TaskMessages.badMetadata(name, problem));
    const merged = { ...this.taskResult.metadata, ...(metadata ?? {}) };
    await this.saveProgress(fraction, merged);
    this.taskResult.update({
      ...this.taskResult.snapshot,
      progress: fraction,
      metadata: merged,
    });
  }
}
