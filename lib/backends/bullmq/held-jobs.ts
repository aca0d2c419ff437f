import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { TaskErrorRecord } from '../../task/task-error-record.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { BullMQStore } from './bullmq-store.js';
import { availableAtOf, encodeTask } from './job-codec.js';
import { RedisScripts } from './redis-scripts.js';

/** A job a worker of this process took: the lock token it holds it with, and the attempt. */
export interface HeldJob {
  job: Job;
  token: string;
  attempt: number;
  /** The result's state as last written: progress and metadata saved meanwhile included. */
  data: TaskResultData;
  /** The result's state as claimed, before the attempt started: what a hand-back restores. */
  claimed: TaskResultData;
}

/** How many written attempts are remembered for retried writes (the oldest are forgotten first). */
const REMEMBERED_WRITES = 10_000;

/** BullMQ's answers of a move whose job the token no longer holds: gone, unlocked, not active, locked by another. */
const NOT_HELD = new Set([-1, -2, -3, -6]);

/**
 * BullMQ's builder of a move to completed or failed (protected in its
 * typings) that takes fields to write with the move, and its errors.
 */
interface FinishArgs {
  moveToFinishedArgs(
    job: Job,
    value: string,
    property: 'returnvalue' | 'failedReason',
    remove: false,
    target: 'completed' | 'failed',
    token: string,
    timestamp: number,
    fetchNext: false,
    fieldsToUpdate: Record<string, string>,
  ): (string | number | boolean | Buffer)[];
  finishedErrors(failure: {
    code: number;
    jobId: string;
    command: string;
    state: string;
  }): Error;
}

/** An error BullMQ records as a failed job's reason: the attempt's last error, or the cancel. */
function failure(data: TaskResultData): Error {
  if (data.status === TaskResultStatus.CANCELLED)
    return new Error(TaskMessages.bullmqCancelledReason());
  const last: TaskErrorRecord | undefined = data.errors.at(-1);
  const error = new Error(last?.message ?? data.status);
  error.name = last?.errorClass ?? 'Error';
  if (last?.traceback) error.stack = last.traceback;
  return error;
}

/**
 * The jobs this process's workers hold, by worker and id, and how a held
 * job's state is written: fenced by its lock, then moved by BullMQ (also
 * fenced by the lock) to where its status puts it.
 */
export class HeldJobs {
  private readonly held = new Map<string, HeldJob>();
  /** Attempts written lately, by worker, id and attempt: whether each ended cancelled. */
  private readonly written = new Map<string, boolean>();

  constructor(private readonly store: BullMQStore) {}

  /** A lock token of a worker: unique per claim. */
  static token(workerId: string): string {
    return `${workerId}:${randomUUID()}`;
  }

  get(workerId: string, id: string): HeldJob | undefined {
    return this.held.get(`${workerId}\u0000${id}`);
  }

  /** The held job of this worker and attempt, or undefined. */
  holding(workerId: string, id: string, attempt: number): HeldJob | undefined {
    const held = this.get(workerId, id);
    return held && held.attempt === attempt ? held : undefined;
  }

  set(workerId: string, held: HeldJob): void {
    this.held.set(`${workerId}\u0000${held.job.id}`, held);
  }

  /** Stops holding `held` (and not a later claim of the same task by the worker). */
  release(workerId: string, held: HeldJob): void {
    const key = `${workerId}\u0000${held.job.id}`;
    if (this.held.get(key) === held) this.held.delete(key);
  }

  /** Remembers that `held`'s attempt was written (so that a retried write of it answers written), then releases it. */
  ended(workerId: string, held: HeldJob, cancelled: boolean): void {
    this.release(workerId, held);
    this.written.set(
      `${workerId}\u0000${held.job.id}\u0000${held.attempt}`,
      cancelled,
    );
    if (this.written.size > REMEMBERED_WRITES)
      this.written.delete(this.written.keys().next().value as string);
  }

  /** Whether this worker's attempt was written lately, and if it ended cancelled; undefined when not. */
  endedLately(
    workerId: string,
    id: string,
    attempt: number,
  ): { cancelled: boolean } | undefined {
    const cancelled = this.written.get(
      `${workerId}\u0000${id}\u0000${attempt}`,
    );
    return cancelled === undefined ? undefined : { cancelled };
  }

  /** Forgets every job of a worker (it stopped: what it still held is left to the stalled check). */
  forget(workerId: string): void {
    for (const key of this.held.keys())
      if (key.startsWith(`${workerId}\u0000`)) this.held.delete(key);
  }

  /** Writes a held job's data (and progress) while `token` holds its lock; false when it does not. */
  async write(
    job: Job,
    token: string,
    data: TaskResultData,
    availableAt = availableAtOf(job),
  ): Promise<boolean> {
    const client = await this.store.client();
    return RedisScripts.writeHeld(
      client,
      this.store.queuePrefix(job.queueName) + String(job.id),
      token,
      JSON.stringify(encodeTask(data, availableAt)),
      data.progress === null ? '' : JSON.stringify(data.progress),
    );
  }

  /**
   * Puts a job taken and not run back at the head of its line, its data as
   * it was taken (the job's own, byte for byte as BullMQ read it): written
   * back while `token` holds its lock, then moved by BullMQ (also fenced
   * by the lock). False when the lock was no longer `token`'s. Safe to
   * repeat after a failure part-way.
   */
  async restore(job: Job, token: string): Promise<boolean> {
    const client = await this.store.client();
    const written = await RedisScripts.writeHeld(
      client,
      this.store.queuePrefix(job.queueName) + String(job.id),
      token,
      JSON.stringify(job.data),
      '',
    );
    if (!written) return false;
    try {
      await job.moveToWait(token);
    } catch (error) {
      if (NOT_HELD.has((error as { code?: unknown }).code as number))
        return false;
      throw error;
    }
    return true;
  }

  /**
   * Ends a held job's attempt with `data`: SUCCESSFUL to BullMQ's completed
   * jobs (its return value the job's), FAILED and CANCELLED to its failed
   * jobs, READY (a retry) to its delayed jobs until `retryAt`. The data is
   * written by BullMQ's own move, in the same script that checks the lock:
   * written and moved together, or neither. False when the lock was no
   * longer `token`'s: nothing was written.
   */
  async finish(
    job: Job,
    token: string,
    data: TaskResultData,
    retryAt: Date | null,
  ): Promise<boolean> {
    const { backend } = await this.store.worker(job.queueName);
    const id = String(job.id);
    try {
      if (data.status === TaskResultStatus.READY) {
        const now = Date.now();
        const availableAt = retryAt?.getTime() ?? availableAtOf(job);
        await backend.moveToDelayed(
          id,
          now,
          Math.max(0, availableAt - now),
          token,
          { skipAttempt: true, fieldsToUpdate: fieldsOf(data, availableAt) },
        );
      } else
        await backend.moveToFinished(
          id,
          finishArgs(backend, { job, token, data, retryAt }),
        );
    } catch (error) {
      if (NOT_HELD.has((error as { code?: unknown }).code as number))
        return false;
      throw error;
    }
    return true;
  }

  /**
   * Ends many held jobs' attempts, each as `finish` does; those that end
   * SUCCESSFUL, FAILED or CANCELLED in one call where the installed
   * BullMQ's move to finished can be run for many. Answers, for each,
   * whether it was written, or the error its write met.
   */
  async finishMany(
    entries: readonly Finishing[],
  ): Promise<(boolean | Error)[]> {
    const moveToFinished = await this.store.moveToFinishedScript();
    const answers: (boolean | Error)[] = [];
    const together: { at: number; backend: FinishArgs; id: string }[] = [];
    const args: ReturnType<FinishArgs['moveToFinishedArgs']>[] = [];
    const alone: Promise<void>[] = [];
    for (const [at, entry] of entries.entries()) {
      if (
        moveToFinished === null ||
        entry.data.status === TaskResultStatus.READY
      )
        alone.push(
          this.finish(entry.job, entry.token, entry.data, entry.retryAt).then(
            (written) => void (answers[at] = written),
            (error: Error) => void (answers[at] = error),
          ),
        );
      else
        try {
          const backend = (await this.store.worker(entry.job.queueName))
            .backend as unknown as FinishArgs;
          args.push(finishArgs(backend, entry));
          together.push({ at, backend, id: String(entry.job.id) });
        } catch (error) {
          answers[at] = error as Error;
        }
    }
    if (moveToFinished !== null && together.length > 0) {
      let results: (number | Error)[];
      try {
        results = await RedisScripts.finishJobs(
          await this.store.client(),
          moveToFinished,
          args,
        );
      } catch (error) {
        results = together.map(() => error as Error);
      }
      results.forEach((result, k) => {
        const { at, backend, id } = together[k];
        answers[at] = answerOf(result, backend, id);
      });
    }
    await Promise.all(alone);
    return answers;
  }
}

/** Whether a job was moved by BullMQ's answer to its move to finished: false when not held, else the error. */
function answerOf(
  result: number | Error,
  backend: FinishArgs,
  jobId: string,
): boolean | Error {
  if (result instanceof Error) return result;
  if (result >= 0) return true;
  if (NOT_HELD.has(result)) return false;
  return backend.finishedErrors({
    code: result,
    jobId,
    command: 'moveToFinished',
    state: 'active',
  });
}

/** A held job's attempt to end, as `HeldJobs.finish` takes it. */
export interface Finishing {
  job: Job;
  token: string;
  data: TaskResultData;
  retryAt: Date | null;
}

/** The job fields an attempt's end writes: its data (and progress). */
function fieldsOf(
  data: TaskResultData,
  availableAt: number,
): Record<string, string> {
  const fields: Record<string, string> = {
    data: JSON.stringify(encodeTask(data, availableAt)),
  };
  if (data.progress !== null) fields.progress = JSON.stringify(data.progress);
  return fields;
}

/**
 * BullMQ's arguments of the move to completed (SUCCESSFUL, its return value
 * the job's) or failed (FAILED, CANCELLED) of a held job, its fields
 * written with the move.
 */
function finishArgs(
  backend: unknown,
  { job, token, data, retryAt }: Finishing,
): (string | number | boolean | Buffer)[] {
  const fields = fieldsOf(data, retryAt?.getTime() ?? availableAtOf(job));
  const moves = backend as FinishArgs;
  if (data.status === TaskResultStatus.SUCCESSFUL)
    return moves.moveToFinishedArgs(
      job,
      JSON.stringify(data.returnValue ?? null),
      'returnvalue',
      false,
      'completed',
      token,
      Date.now(),
      false,
      fields,
    );
  const error = failure(data);
  return moves.moveToFinishedArgs(
    job,
    error.message,
    'failedReason',
    false,
    'failed',
    token,
    Date.now(),
    false,
    { ...fields, stacktrace: JSON.stringify(error.stack ? [error.stack] : []) },
  );
}
