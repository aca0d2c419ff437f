import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { TaskErrorRecord } from '../../task/task-error-record.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { BullMQStore } from './bullmq-store.js';
import {
  ATTEMPT_FIELD,
  availableAtOf,
  encodeTask,
  readAttemptMark,
} from './job-codec.js';
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
  /** The job's attempt mark before the claim marked it ('' for none): what a hand-back restores. */
  previousMark: string;
  /** Whether its outcome was sent to be written: its end may have been written, the reply lost. */
  ending?: boolean;
  /** When it was first found cancelled: every try of writing it CANCELLED writes the same data. */
  cancelledAt?: Date;
}

/** How many written attempts of a worker are remembered at least for retried writes (the oldest are forgotten first). */
const REMEMBERED_WRITES = 10_000;

/** An attempt written lately: which, whether it ended cancelled, and an earlier one of the same job. */
interface WrittenAttempt {
  attempt: number;
  cancelled: boolean;
  earlier: WrittenAttempt | undefined;
}

/**
 * The attempts of one worker written lately, by job id. Two generations:
 * once the newer holds REMEMBERED_WRITES jobs, it becomes the older and
 * the older is forgotten.
 */
class WrittenLately {
  private newer = new Map<string, WrittenAttempt>();
  private older = new Map<string, WrittenAttempt>();

  add(id: string, attempt: number, cancelled: boolean): void {
    this.newer.set(id, { attempt, cancelled, earlier: this.newer.get(id) });
    if (this.newer.size >= REMEMBERED_WRITES) {
      this.older = this.newer;
      this.newer = new Map();
    }
  }

  find(id: string, attempt: number): { cancelled: boolean } | undefined {
    for (const generation of [this.newer, this.older])
      for (let at = generation.get(id); at; at = at.earlier)
        if (at.attempt === attempt) return { cancelled: at.cancelled };
    return undefined;
  }
}

/** The answer of the move to finished of many for a job it left, its cancel requested. */
const CANCEL_REQUESTED = 1;

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
    fieldsToUpdate: Record<string, string> | undefined,
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
  /** By worker, then by id (a job's id is the key as it is, without a key made for each lookup). */
  private readonly held = new Map<string, Map<string, HeldJob>>();
  /** Attempts written lately, by worker. */
  private readonly written = new Map<string, WrittenLately>();

  constructor(private readonly store: BullMQStore) {}

  /** A lock token of a worker: unique per claim. */
  static token(workerId: string): string {
    return `${workerId}:${randomUUID()}`;
  }

  get(workerId: string, id: string): HeldJob | undefined {
    return this.held.get(workerId)?.get(id);
  }

  /** The held job of this worker and attempt, or undefined. */
  holding(workerId: string, id: string, attempt: number): HeldJob | undefined {
    const held = this.get(workerId, id);
    return held && held.attempt === attempt ? held : undefined;
  }

  set(workerId: string, held: HeldJob): void {
    let jobs = this.held.get(workerId);
    if (!jobs) this.held.set(workerId, (jobs = new Map()));
    jobs.set(String(held.job.id), held);
  }

  /** Stops holding `held` (and not a later claim of the same task by the worker). */
  release(workerId: string, held: HeldJob): void {
    const jobs = this.held.get(workerId);
    const id = String(held.job.id);
    if (jobs?.get(id) === held) jobs.delete(id);
  }

  /** Remembers that `held`'s attempt was written (so that a retried write of it answers written), then releases it. */
  ended(workerId: string, held: HeldJob, cancelled: boolean): void {
    this.release(workerId, held);
    let written = this.written.get(workerId);
    if (!written) this.written.set(workerId, (written = new WrittenLately()));
    written.add(String(held.job.id), held.attempt, cancelled);
  }

  /** Whether this worker's attempt was written lately, and if it ended cancelled; undefined when not. */
  endedLately(
    workerId: string,
    id: string,
    attempt: number,
  ): { cancelled: boolean } | undefined {
    return this.written.get(workerId)?.find(id, attempt);
  }

  /** Forgets every job of a worker (it stopped: what it still held is left to the stalled check). */
  forget(workerId: string): void {
    this.held.delete(workerId);
    this.written.delete(workerId);
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
      JSON.stringify(encodeTask(data, availableAt, token)),
      data.progress === null ? '' : JSON.stringify(data.progress),
    );
  }

  /**
   * Puts a job taken and not run back at the head of its line, its data as
   * it was taken (the job's own, byte for byte as BullMQ read it) and its
   * attempt mark as it was before (`previousMark`, '' for none): written
   * back while `token` holds its lock, then moved by BullMQ (also fenced
   * by the lock). False when the lock was no longer `token`'s. Safe to
   * repeat after a failure part-way.
   */
  async restore(
    job: Job,
    token: string,
    previousMark: string,
  ): Promise<boolean> {
    const client = await this.store.client();
    const written = await RedisScripts.writeHeld(
      client,
      this.store.queuePrefix(job.queueName) + String(job.id),
      token,
      JSON.stringify(job.data),
      '',
      previousMark,
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
   * written and moved together, or neither; the data counts the attempt
   * of `token`. With `restoredMark` (a job that did not run: its attempt
   * mark as it was before its take, '' for none), that mark is put back
   * and the data counts the attempt it marks instead. False when the lock
   * was no longer `token`'s: nothing was written.
   */
  async finish(
    job: Job,
    token: string,
    data: TaskResultData,
    retryAt: Date | null,
    restoredMark?: string,
  ): Promise<boolean> {
    const { backend } = await this.store.worker(job.queueName);
    const id = String(job.id);
    const finishing = { job, token, data, retryAt, restoredMark };
    try {
      if (data.status === TaskResultStatus.READY) {
        const now = Date.now();
        const availableAt = retryAt?.getTime() ?? availableAtOf(job);
        await backend.moveToDelayed(
          id,
          now,
          Math.max(0, availableAt - now),
          token,
          {
            skipAttempt: true,
            fieldsToUpdate: fieldsOf(finishing, availableAt),
          },
        );
      } else await backend.moveToFinished(id, finishArgs(backend, finishing));
    } catch (error) {
      if (NOT_HELD.has((error as { code?: unknown }).code as number))
        return this.endedAs(finishing);
      throw error;
    }
    return true;
  }

  /**
   * Whether a job no longer held holds the data its end writes: the end
   * was written by an earlier try whose reply was lost (any later attempt
   * writes other data).
   */
  private async endedAs(finishing: Finishing): Promise<boolean> {
    const { job, token, data, retryAt, restoredMark } = finishing;
    const client = await this.store.client();
    const prefix = this.store.queuePrefix(job.queueName);
    const id = String(job.id);
    if (
      data.status === TaskResultStatus.SUCCESSFUL &&
      restoredMark === undefined
    ) {
      // Its data is not rewritten: completed while its attempt's mark still stands.
      const [completed, mark] = await Promise.all([
        client.zscore(`${prefix}completed`, id),
        client.hget(prefix + id, ATTEMPT_FIELD),
      ]);
      return completed !== null && readAttemptMark(mark)?.token === token;
    }
    const stored = await client.hget(prefix + id, 'data');
    return (
      stored ===
      fieldsOf(finishing, retryAt?.getTime() ?? availableAtOf(job)).data
    );
  }

  /**
   * Ends many held jobs' attempts, each as `finish` does; those that end
   * SUCCESSFUL, FAILED or CANCELLED in calls of many where the installed
   * BullMQ's move to finished can be run for many, sent at once. With a
   * cancels hash, a job whose cancel was requested there is left as it is.
   * Answers, for each, whether it was written, 'cancel requested' for one
   * left, or the error its write met.
   */
  async finishMany(
    entries: readonly Finishing[],
    cancelsKey: string | null,
  ): Promise<Finished[]> {
    const moveToFinished = await this.store.moveToFinishedScript();
    const answers: Finished[] = [];
    const alone = [...entries.keys()].filter(
      (at) =>
        moveToFinished === null ||
        entries[at].data.status === TaskResultStatus.READY,
    );
    const requested = await this.cancelRequested(
      cancelsKey,
      alone.map((at) => String(entries[at].job.id)),
    );
    const writes: Promise<void>[] = alone.map(async (at) => {
      const { job, token, data, retryAt, restoredMark } = entries[at];
      if (requested.has(String(job.id))) answers[at] = 'cancel requested';
      else
        answers[at] = await this.finish(
          job,
          token,
          data,
          retryAt,
          restoredMark,
        ).catch((error: Error) => error);
    });
    if (moveToFinished !== null) {
      const together: { at: number; backend: FinishArgs; args: FinishArgv }[] =
        [];
      const backends = await this.finishArgsOf(
        entries.map((entry) => entry.job.queueName),
      );
      entries.forEach((entry, at) => {
        if (entry.data.status === TaskResultStatus.READY) return;
        const backend = backends.get(entry.job.queueName)!;
        try {
          if (backend instanceof Error) throw backend;
          together.push({ at, backend, args: finishArgs(backend, entry) });
        } catch (error) {
          answers[at] = error as Error;
        }
      });
      const client = await this.store.client();
      for (let from = 0; from < together.length; from += FINISH_CHUNK) {
        const chunk = together.slice(from, from + FINISH_CHUNK);
        writes.push(
          RedisScripts.finishJobs(
            client,
            moveToFinished,
            chunk.map(({ args }) => args),
            cancelsKey,
          ).then(
            async (results) => {
              const unheld: Promise<void>[] = [];
              results.forEach((result, k) => {
                const { at, backend } = chunk[k];
                const answer = answerOf(result, backend, entries[at].job);
                if (answer !== false) answers[at] = answer;
                else
                  unheld.push(
                    this.endedAs(entries[at])
                      .catch((error: Error) => error)
                      .then((ended) => {
                        answers[at] = ended;
                      }),
                  );
              });
              await Promise.all(unheld);
            },
            (error: Error) => {
              for (const { at } of chunk) answers[at] = error;
            },
          ),
        );
      }
    }
    await Promise.all(writes);
    return answers;
  }

  /** The builder of the moves to finished of each of the queues `names`, once each, or the error opening it met. */
  private async finishArgsOf(
    names: readonly string[],
  ): Promise<Map<string, FinishArgs | Error>> {
    const backends = new Map<string, FinishArgs | Error>();
    await Promise.all(
      [...new Set(names)].map(async (name) => {
        try {
          const { backend } = await this.store.worker(name);
          backends.set(name, backend as unknown as FinishArgs);
        } catch (error) {
          backends.set(name, error as Error);
        }
      }),
    );
    return backends;
  }

  /** The ids among `ids` whose cancel was requested in the hash `cancelsKey` (none without one). */
  private async cancelRequested(
    cancelsKey: string | null,
    ids: readonly string[],
  ): Promise<Set<string>> {
    if (cancelsKey === null || ids.length === 0) return new Set();
    const client = await this.store.client();
    const requested = await client.hmget(cancelsKey, ...ids);
    return new Set(ids.filter((_, i) => requested[i] !== null));
  }
}

/** What became of a held job's attempt to end: written, no longer held (false), left for its requested cancel, or the error its write met. */
export type Finished = boolean | 'cancel requested' | Error;

/** How many jobs one call of the move to finished takes: calls of a batch go out at once, so that Redis runs one while the next is sent. */
const FINISH_CHUNK = 25;

/** BullMQ's arguments of one job's move to finished: its keys, then its arguments. */
type FinishArgv = (string | number | boolean | Buffer)[];

/** Whether a job was moved by BullMQ's answer to its move to finished: false when not held, else the error. */
function answerOf(
  result: number | Error,
  backend: FinishArgs,
  job: Job,
): Finished {
  if (result instanceof Error) return result;
  if (result === CANCEL_REQUESTED) return 'cancel requested';
  if (result >= 0) return true;
  if (NOT_HELD.has(result)) return false;
  return backend.finishedErrors({
    code: result,
    jobId: String(job.id),
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
  /** The attempt mark to put back, for a job that did not run (see `HeldJobs.finish`). */
  restoredMark?: string;
}

/**
 * The job fields an attempt's end writes: its data, counting the attempt
 * (and progress; and the restored attempt mark, when one is).
 */
function fieldsOf(
  { token, data, restoredMark }: Finishing,
  availableAt: number,
): Record<string, string> {
  const counted =
    restoredMark === undefined
      ? token
      : (readAttemptMark(restoredMark)?.token ?? null);
  const fields: Record<string, string> = {
    data: JSON.stringify(encodeTask(data, availableAt, counted)),
  };
  if (data.progress !== null) fields.progress = JSON.stringify(data.progress);
  if (restoredMark !== undefined) fields[ATTEMPT_FIELD] = restoredMark;
  return fields;
}

/**
 * BullMQ's arguments of the move to completed (SUCCESSFUL, its return value
 * the job's) or failed (FAILED, CANCELLED) of a held job, its fields
 * written with the move. The data of an attempt that succeeded is not
 * rewritten: read back, the job's data with its attempt's mark is the
 * started attempt, which BullMQ's completed state, finish time (the
 * attempt's) and return value make SUCCESSFUL (see `decodeJob`).
 */
function finishArgs(backend: unknown, finishing: Finishing): FinishArgv {
  const { job, token, data, retryAt, restoredMark } = finishing;
  const moves = backend as FinishArgs;
  const fields = () =>
    fieldsOf(finishing, retryAt?.getTime() ?? availableAtOf(job));
  if (data.status === TaskResultStatus.SUCCESSFUL)
    return moves.moveToFinishedArgs(
      job,
      JSON.stringify(data.returnValue ?? null),
      'returnvalue',
      false,
      'completed',
      token,
      data.finishedAt?.getTime() ?? Date.now(),
      false,
      restoredMark === undefined ? undefined : fields(),
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
    {
      ...fields(),
      stacktrace: JSON.stringify(error.stack ? [error.stack] : []),
    },
  );
}
