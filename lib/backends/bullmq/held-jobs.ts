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

  delete(workerId: string, id: string): void {
    this.held.delete(`${workerId}\u0000${id}`);
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
   * Ends a held job's attempt with `data`: SUCCESSFUL to BullMQ's completed
   * jobs (its return value the job's), FAILED and CANCELLED to its failed
   * jobs, READY (a retry) to its delayed jobs until `retryAt`. False when
   * the lock was no longer `token`'s: nothing was written.
   */
  async finish(
    job: Job,
    token: string,
    data: TaskResultData,
    retryAt: Date | null,
  ): Promise<boolean> {
    const availableAt = retryAt?.getTime() ?? availableAtOf(job);
    if (!(await this.write(job, token, data, availableAt))) return false;
    if (data.status === TaskResultStatus.SUCCESSFUL)
      await job.moveToCompleted(data.returnValue ?? null, token, false);
    else if (data.status === TaskResultStatus.READY)
      await job.moveToDelayed(availableAt, token);
    else await job.moveToFailed(failure(data), token, false);
    return true;
  }
}
