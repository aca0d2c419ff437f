import { hostname } from 'node:os';
import type { Job, JobJson, Worker } from 'bullmq';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import {
  attemptCancelled,
  attemptStarted,
  type AttemptVerdict,
} from '../../execution/attempt-policy.js';
import type { TaskErrorRecord } from '../../task/task-error-record.js';
import type { TaskEventName } from '../../task/task-event.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { WorkerStatus } from '../backend-admin.js';
import type {
  AttemptRecord,
  ClaimedTask,
  CompletionReport,
  HeartbeatReport,
  HeldTask,
  WorkerInfo,
  WorkerQueue,
} from '../worker-queue.js';
import type { BullMQStore } from './bullmq-store.js';
import { type HeldJob, HeldJobs } from './held-jobs.js';
import {
  ATTEMPT_FIELD,
  attemptMarkHead,
  decodeJob,
  withReadableData,
} from './job-codec.js';
import { type MarkerListener, QueueMarkers } from './queue-markers.js';
import { RedisScripts } from './redis-scripts.js';

/** A job a claim took, marked as started unless its cancel was requested. */
interface TakenJob {
  job: Job;
  /** The job's attempt mark before the claim marked it ('' for none). */
  previousMark: string;
  /** Whether its cancel was requested (then it was not marked). */
  cancelled: boolean;
}

/** Jobs a claim took from one queue, under one lock token, at `now`. */
interface JobsTaken {
  taken: TakenJob[];
  token: string;
  now: number;
  /** Whether the queue had fewer jobs than were asked for. */
  emptied: boolean;
  /** The first error met, with what was taken before it. */
  error?: unknown;
}

/** The value of `name` among a hash's fields as Redis answers them (name, value, …); '' when absent. */
function fieldOf(fields: readonly string[], name: string): string {
  for (let at = 0; at + 1 < fields.length; at += 2)
    if (fields[at] === name) return fields[at + 1];
  return '';
}

/** What the worker queue needs from its backend. */
export interface BullMQQueueHost {
  toResult(data: TaskResultData): TaskResult<any>;
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
  /** The verdict on an attempt whose worker stopped heartbeating (the job came back from BullMQ's stalled check). */
  interrupted(data: TaskResultData): AttemptVerdict;
  /** Cancels a task (as TaskQueue.cancel()). */
  cancel(id: string): Promise<TaskResult<any>>;
}

/** How stale the list of queues a claim of every queue looks in may be. */
const KNOWN_QUEUES_MS = 1_000;

/** After how many leases without a heartbeat a worker's entry is removed. */
const STALE_WORKER_LEASES = 10;

/** How many jobs one call of a claim takes: the calls of a claim go out at once, so that Redis takes the next while this process starts those taken. */
const TAKE_CHUNK = 25;

/** An attempt's outcome on its way to be written. */
interface Outcome {
  held: HeldJob;
  workerId: string;
  verdict: AttemptVerdict;
  /** Whether it is written CANCELLED for its requested cancel. */
  cancelled: boolean;
}

/** A worker as stored under `<prefix>:~tasks:workers`: times as epoch ms. */
interface StoredWorker {
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  startedAt: number;
  heartbeatAt: number;
}

/** The registered workers whose heartbeat is live, read from the workers hash. */
export function liveWorkers(
  stored: Record<string, string>,
  leaseMs: number,
  now = Date.now(),
): WorkerStatus[] {
  const live: WorkerStatus[] = [];
  for (const [id, text] of Object.entries(stored)) {
    let worker: StoredWorker;
    try {
      worker = JSON.parse(text) as StoredWorker;
    } catch {
      continue;
    }
    if (worker.heartbeatAt < now - leaseMs) continue;
    live.push({
      id,
      hostname: worker.hostname,
      pid: worker.pid,
      queues: worker.queues,
      concurrency: worker.concurrency,
      startedAt: new Date(worker.startedAt),
      heartbeatAt: new Date(worker.heartbeatAt),
    });
  }
  return live.sort((a, b) => a.id.localeCompare(b.id));
}

/** A worker of this process listening for wake-ups. */
interface Listening {
  listener: MarkerListener;
  /** Whether it claims from a queue (it is woken only for those). */
  serves(name: string): boolean;
  /** The queues whose markers wake it. */
  queues: Set<string>;
  /** How to stop each of its watches. */
  stops: (() => void)[];
}

/**
 * The BullMQBackend's queue for workers, on BullMQ's manual processing: a
 * claim takes the jobs of a queue in one call, running BullMQ's own move
 * to active for each (what `Worker.getNextJob` runs: BullMQ's order,
 * priority then the order they became waiting) under a lock token per
 * claim, and marks each as started in the same call (see `decodeJob`:
 * the attempt's start is not written into the data); the lock is the lease, which
 * heartbeats extend (`extendJobLocks`); outcomes are written fenced by the
 * lock and moved by BullMQ to completed, failed (many in one call, through
 * BullMQ's own move to finished) or delayed (a retry). A job whose worker stopped heartbeating is put back
 * by BullMQ's stalled check and settled by the attempt policy when it is
 * next taken: retried while attempts remain, else FAILED as interrupted.
 * Cancel requests of running tasks are kept under `<prefix>:~tasks:cancels`
 * until the attempt's outcome is written.
 */
export class BullMQWorkerQueue implements WorkerQueue {
  private readonly held: HeldJobs;
  private readonly registered = new Map<string, StoredWorker>();
  /** How many claims each worker made: where its next claim starts among its queues. */
  private readonly turns = new Map<string, number>();
  /** The marker watch of each queue this process's workers listen to. */
  private readonly markers = new Map<string, QueueMarkers>();
  /** This process's workers listening, with the queues whose markers wake each. */
  private readonly listening = new Set<Listening>();

  constructor(
    private readonly store: BullMQStore,
    private readonly host: BullMQQueueHost,
  ) {
    this.held = new HeldJobs(store);
  }

  get leaseMs(): number {
    return this.store.settings.leaseMs;
  }

  /**
   * Registers the worker unless a live one has its id; removes on the way
   * the workers whose heartbeat stopped more than ten leases ago.
   */
  async registerWorker(info: WorkerInfo): Promise<void> {
    const client = await this.store.client();
    const now = Date.now();
    const worker: StoredWorker = {
      hostname: hostname(),
      pid: process.pid,
      queues: [...(info.queues ?? ['*'])],
      concurrency: info.concurrency,
      startedAt: now,
      heartbeatAt: now,
    };
    const registered = await RedisScripts.registerWorker(
      client,
      this.store.key('workers'),
      info.workerId,
      JSON.stringify(worker),
      now,
      this.leaseMs,
      STALE_WORKER_LEASES * this.leaseMs,
    );
    if (!registered)
      throw new InvalidTaskBackendError(
        TaskMessages.workerIdInUse(info.workerId, this.store.alias),
      );
    this.registered.set(info.workerId, worker);
  }

  async unregisterWorker(workerId: string): Promise<void> {
    this.registered.delete(workerId);
    this.turns.delete(workerId);
    this.held.forget(workerId);
    const client = await this.store.client();
    await client.hdel(this.store.key('workers'), workerId);
  }

  /**
   * Takes up to `limit` jobs from the queues, starting at the next queue at
   * each claim: each round asks every open queue for its share at once
   * (within a queue BullMQ's order: priority, then the order they became
   * waiting), and a queue that gives fewer than asked has no more for this
   * claim. Jobs whose last attempt was interrupted are settled on the way
   * and not counted.
   */
  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]> {
    const claiming = this.claimUpTo(workerId, queues, limit);
    try {
      return await this.store.guarded(claiming);
    } catch (error) {
      // Given up on (Redis unreachable too long): what it still takes goes back.
      claiming
        .then((late) =>
          this.handBack(
            workerId,
            late.map(({ result }) => ({
              id: result.id,
              attempt: result.attempts,
            })),
          ),
        )
        .catch(() => undefined);
      throw error;
    }
  }

  /** A claim that fails part-way returns what it took; it fails only when it took nothing. */
  private async claimUpTo(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]> {
    const claimed: ClaimedTask[] = [];
    const names = queues
      ? [...queues]
      : await this.store.knownQueues(KNOWN_QUEUES_MS);
    // A queue whose announcement a listener missed (Redis unreachable then) wakes it from now on.
    for (const listening of this.listening)
      this.watch(listening, names).catch(() => undefined);
    let open = this.inTurn(workerId, names);
    while (claimed.length < limit && open.length > 0) {
      const remaining = limit - claimed.length;
      const shares = open.map(
        (_, i) =>
          Math.floor(remaining / open.length) +
          (i < remaining % open.length ? 1 : 0),
      );
      const takes = await Promise.all(
        open.map((name, i) => this.take(workerId, name, shares[i])),
      );
      const failed = takes.find((take) => take.error !== undefined);
      for (const take of takes) claimed.push(...take.started);
      if (failed) {
        if (claimed.length === 0) throw failed.error;
        break;
      }
      open = open.filter((_, i) => !takes[i].emptied);
    }
    return claimed;
  }

  /** `queues` starting one further at each claim of the worker, so that a busy first queue does not starve the others. */
  private inTurn(workerId: string, queues: string[]): string[] {
    const turn = this.turns.get(workerId) ?? 0;
    this.turns.set(workerId, turn + 1);
    const start = queues.length ? turn % queues.length : 0;
    return [...queues.slice(start), ...queues.slice(0, start)];
  }

  /**
   * Up to `count` jobs of a queue, taken and started by `workerId` (see
   * `startTaken`) in calls of TAKE_CHUNK sent at once; `emptied` when the
   * queue had fewer; the first error met, if any.
   */
  private async take(
    workerId: string,
    queueName: string,
    count: number,
  ): Promise<{ started: ClaimedTask[]; emptied: boolean; error?: unknown }> {
    if (count === 0) return { started: [], emptied: false };
    let worker: Worker;
    try {
      worker = await this.store.worker(queueName);
    } catch (error) {
      return { started: [], emptied: false, error };
    }
    const sizes = Array.from(
      { length: Math.ceil(count / TAKE_CHUNK) },
      (_, i) => Math.min(TAKE_CHUNK, count - i * TAKE_CHUNK),
    );
    const parts = await Promise.all(
      sizes.map(async (size) => {
        const took = await this.takeJobs(workerId, worker, size);
        const starts = await this.startTaken(workerId, took);
        return {
          ...starts,
          emptied: took.emptied,
          error: took.error ?? starts.error,
        };
      }),
    );
    this.markers.get(queueName)?.claimed();
    return {
      started: parts.flatMap((part) => part.started),
      emptied: parts.some((part) => part.emptied),
      error: parts.find((part) => part.error !== undefined)?.error,
    };
  }

  /**
   * Starts the attempts of taken jobs, each marked as started by its take:
   * held by the worker, RUNNING from the mark's time. Those that must not
   * run (finished, interrupted, or cancelled meanwhile) are settled
   * instead; a job that could be neither is handed back to waiting. The
   * first error met, if any.
   */
  private async startTaken(
    workerId: string,
    { taken, token, now }: JobsTaken,
  ): Promise<{ started: ClaimedTask[]; error?: unknown }> {
    const started: ClaimedTask[] = [];
    let error: unknown;
    const settling: Promise<void>[] = [];
    for (const { job, previousMark, cancelled } of taken) {
      // Read with its mark before the take: an attempt it does not count yet was interrupted.
      const { data, problem } = decodeJob(
        {
          id: job.id,
          data: job.data,
          returnvalue: job.returnvalue,
          timestamp: job.timestamp,
          attemptMark: previousMark,
          attemptsMade: job.attemptsMade,
        },
        'active',
      );
      const runnable =
        !cancelled &&
        !isFinishedStatus(data.status) &&
        data.status !== TaskResultStatus.RUNNING;
      if (runnable) {
        const attempt = attemptStarted(data, workerId, new Date(now));
        this.held.set(workerId, {
          job,
          token,
          attempt: attempt.attempts,
          data: attempt,
          claimed: data,
          previousMark,
        });
        started.push({ result: this.host.toResult(attempt), problem });
      } else
        settling.push(
          this.settleTaken(
            { job, token, data, problem, previousMark },
            cancelled,
          ).catch(async (failure: unknown) => {
            // Best effort: a job left behind comes back through the stalled check, as it was taken.
            await this.held
              .restore(job, token, previousMark)
              .catch(() => undefined);
            error ??= failure;
          }),
        );
    }
    await Promise.all(settling);
    return { started, error };
  }

  /**
   * Up to `count` jobs of a queue, taken together, locked with one token
   * and marked as started: in one call where the installed BullMQ's move
   * to active can be run for many, else one call each and one more to
   * mark them. `emptied` when the queue had fewer; the first error met, if
   * any, with what was taken before it.
   */
  private async takeJobs(
    workerId: string,
    worker: Worker,
    count: number,
  ): Promise<JobsTaken> {
    const token = HeldJobs.token(workerId);
    const now = Date.now();
    const markHead = attemptMarkHead(now, workerId, token);
    const moveToActive = await this.store.moveToActiveScript();
    if (moveToActive === null)
      return this.takeOneByOne(worker, { token, now, markHead, count });
    try {
      const { Job, raw2NextJobData } = await this.store.bullmq();
      const taken = await RedisScripts.takeJobs(
        await this.store.client(),
        moveToActive,
        worker.keys,
        this.store.key('cancels'),
        {
          now,
          token,
          lockMs: worker.opts.lockDuration ?? this.leaseMs,
          workerName: worker.opts.name,
          limiter: worker.opts.limiter,
          count,
          markHead,
        },
      );
      const read = (hash: string[], id: string) => {
        const [json] = raw2NextJobData([hash, id]) as [JobJson];
        return Job.fromJSON(worker, json, id);
      };
      const readable: TakenJob[] = [];
      let error: unknown;
      for (const { fields, id, cancelled } of taken) {
        let job: Job;
        try {
          job = read(fields, id);
        } catch {
          try {
            // Fields that are not JSON: read as a damaged job's (see withReadableData).
            job = read(withReadableData(fields), id);
          } catch (failure) {
            // Left active: the stalled check puts it back; its batch goes on.
            error ??= failure;
            continue;
          }
        }
        job.token = token;
        readable.push({
          job,
          previousMark: fieldOf(fields, ATTEMPT_FIELD),
          cancelled,
        });
      }
      return {
        taken: readable,
        token,
        now,
        emptied: taken.length < count,
        error,
      };
    } catch (error) {
      return { taken: [], token, now, emptied: false, error };
    }
  }

  /** `takeJobs` through `Worker.getNextJob`, one call each, then one call that marks them. */
  private async takeOneByOne(
    worker: Worker,
    {
      token,
      now,
      markHead,
      count,
    }: { token: string; now: number; markHead: string; count: number },
  ): Promise<JobsTaken> {
    const takes = await Promise.allSettled(
      Array.from(
        { length: count },
        async () =>
          (await worker.getNextJob(token, { block: false })) as Job | undefined,
      ),
    );
    const jobs: Job[] = [];
    let emptied = false;
    let error: unknown;
    for (const outcome of takes)
      if (outcome.status === 'rejected') error ??= outcome.reason;
      else if (outcome.value) jobs.push(outcome.value);
      else emptied = true;
    const prefix = this.store.queuePrefix(worker.name);
    const taken: TakenJob[] = [];
    let previous: (string | null)[] | undefined;
    try {
      const client = await this.store.client();
      previous = await Promise.all(
        jobs.map((job) => client.hget(prefix + String(job.id), ATTEMPT_FIELD)),
      );
      const answers = await RedisScripts.markTaken(
        client,
        this.store.key('cancels'),
        prefix,
        token,
        markHead,
        jobs.map((job) => String(job.id)),
      );
      // A job whose lock was lost meanwhile is another worker's now.
      answers.forEach((answer, i) => {
        if (answer !== 'not held')
          taken.push({
            job: jobs[i],
            previousMark: previous![i] ?? '',
            cancelled: answer === 'cancelled',
          });
      });
    } catch (failure) {
      // Back as taken, their marks as they were where they were read (best effort: else the stalled check).
      await Promise.all(
        jobs.map((job, i) =>
          (previous
            ? this.held.restore(job, token, previous[i] ?? '')
            : job.moveToWait(token)
          ).catch(() => undefined),
        ),
      );
      error ??= failure;
    }
    return { taken, token, now, emptied, error };
  }

  /**
   * Ends a taken job that must not run: one already finished is written as
   * it is (a damaged one, read as FAILED, with its problem as its last
   * error); one whose last attempt was interrupted (back from BullMQ's
   * stalled check) gets the attempt policy's verdict; a cancelled one ends
   * CANCELLED. Its attempt mark is put back as it was before the take.
   */
  private async settleTaken(
    {
      job,
      token,
      data,
      problem,
      previousMark,
    }: {
      job: Job;
      token: string;
      data: TaskResultData;
      problem: TaskErrorRecord | null;
      previousMark: string;
    },
    cancelled: boolean,
  ): Promise<void> {
    if (isFinishedStatus(data.status)) {
      const finished = problem
        ? {
            ...data,
            finishedAt: data.finishedAt ?? new Date(),
            errors: [...data.errors, problem],
          }
        : data;
      await this.held.finish(job, token, finished, null, previousMark);
      return;
    }
    let verdict: AttemptVerdict =
      data.status === TaskResultStatus.RUNNING
        ? this.host.interrupted(data)
        : { data, retryAt: null };
    if (cancelled) verdict = attemptCancelled(verdict);
    await this.settle(job, token, verdict, previousMark);
  }

  /**
   * Ends a taken job that must not run with `verdict`: back from BullMQ's
   * stalled check (interrupted), or cancelled before it started; its
   * attempt mark put back to `previousMark`. A cancel requested while it
   * was held (it was active then) is done once it waits again, when the
   * verdict is a retry; a final verdict ends the request.
   */
  private async settle(
    job: Job,
    token: string,
    verdict: AttemptVerdict,
    previousMark: string,
  ): Promise<void> {
    const { data } = verdict;
    if (
      !(await this.held.finish(job, token, data, verdict.retryAt, previousMark))
    )
      return;
    if (data.status === TaskResultStatus.READY) {
      if ((await this.cancelRequested([data.id])).size > 0)
        await this.cancelWaiting(data.id);
      return;
    }
    await this.clearCancels([data.id]);
    await this.host.emit('finished', this.host.toResult(data));
  }

  async complete(records: readonly AttemptRecord[]): Promise<CompletionReport> {
    return this.store.guarded(this.writeOutcomes(records));
  }

  /**
   * Writes each record while its worker still holds the attempt, all at
   * once (one call for those that end, where BullMQ allows). A record
   * whose write fails does not stop the others; the first such error is
   * thrown once all were tried, and a retry answers the ones written
   * meanwhile as written.
   */
  private async writeOutcomes(
    records: readonly AttemptRecord[],
  ): Promise<CompletionReport> {
    const written: string[] = [];
    const cancelledIds: string[] = [];
    let writing: Outcome[] = [];
    for (const { data, workerId, attempt, retryAt } of records) {
      const held = this.held.holding(workerId, data.id, attempt);
      if (!held) {
        const lately = this.held.endedLately(workerId, data.id, attempt);
        if (lately) written.push(data.id);
        if (lately?.cancelled) cancelledIds.push(data.id);
        continue;
      }
      // Only the outcome: progress and metadata saved meanwhile stay.
      const saved = held.data;
      const verdict: AttemptVerdict = {
        data:
          data.progress === saved.progress && data.metadata === saved.metadata
            ? data
            : { ...data, progress: saved.progress, metadata: saved.metadata },
        retryAt,
      };
      held.ending = true;
      writing.push({ held, workerId, verdict, cancelled: false });
    }
    let failure: Error | undefined;
    const ended: Outcome[] = [];
    // Each written as it is, unless its cancel was requested: then again, CANCELLED.
    for (const cancelsKey of [this.store.key('cancels'), null]) {
      if (writing.length === 0) break;
      const answers = await this.held.finishMany(
        writing.map(({ held, verdict }) => ({
          job: held.job,
          token: held.token,
          data: verdict.data,
          retryAt: verdict.retryAt,
        })),
        cancelsKey,
      );
      const cancelling: Outcome[] = [];
      writing.forEach((outcome, i) => {
        const answer = answers[i];
        if (answer === 'cancel requested')
          cancelling.push({
            ...outcome,
            verdict: attemptCancelled(
              outcome.verdict,
              (outcome.held.cancelledAt ??= new Date()),
            ),
            cancelled: true,
          });
        else if (answer instanceof Error) failure ??= answer;
        else if (!answer) this.held.release(outcome.workerId, outcome.held);
        else {
          this.held.ended(outcome.workerId, outcome.held, outcome.cancelled);
          ended.push(outcome);
        }
      });
      writing = cancelling;
    }
    const retried: Outcome[] = [];
    for (const outcome of ended)
      if (outcome.verdict.data.status === TaskResultStatus.READY)
        retried.push(outcome);
      else {
        written.push(outcome.verdict.data.id);
        if (outcome.cancelled) cancelledIds.push(outcome.verdict.data.id);
      }
    try {
      await this.clearCancels(
        ended
          .filter((outcome) => outcome.cancelled)
          .map((outcome) => outcome.verdict.data.id),
      );
      // A retry written while its cancel was requested is cancelled now.
      const cancelNow = await this.cancelRequested(
        retried.map(({ held }) => String(held.job.id)),
      );
      const retries = await Promise.allSettled(
        retried.map(async ({ held, workerId }) => {
          const id = String(held.job.id);
          const { cancelled } = cancelNow.has(id)
            ? await this.cancelRetry(workerId, held)
            : { cancelled: false };
          written.push(id);
          if (cancelled) cancelledIds.push(id);
        }),
      );
      const refused = retries.find((outcome) => outcome.status === 'rejected');
      if (refused) failure ??= refused.reason as Error;
    } catch (error) {
      failure ??= error as Error;
    }
    if (failure) throw failure;
    return { written, cancelled: cancelledIds };
  }

  /** Cancels the retry an attempt just wrote, its cancel requested while the attempt was being written. */
  private async cancelRetry(
    workerId: string,
    held: HeldJob,
  ): Promise<{ cancelled: boolean }> {
    const cancelled = await this.cancelWaiting(String(held.job.id));
    if (cancelled) this.held.ended(workerId, held, true);
    return { cancelled };
  }

  /**
   * Cancels a task whose cancel was requested while a worker held it, now
   * that it waits again; true when it ended CANCELLED (the request done).
   */
  private async cancelWaiting(id: string): Promise<boolean> {
    let status: TaskResultStatus;
    try {
      status = (await this.host.cancel(id)).status;
    } catch (error) {
      // The requested cancel ended it first.
      if (error instanceof InvalidTaskError) return false;
      throw error;
    }
    // Else another worker started it meanwhile: the request stays for that attempt.
    if (status !== TaskResultStatus.CANCELLED) return false;
    await this.clearCancels([id]);
    return true;
  }

  /**
   * Hands back jobs whose attempt never started (prefetched ones): each put
   * back at the head of its line as it was claimed (see
   * `HeldJobs.restore`); one whose cancel was requested ends CANCELLED
   * instead. A job stays held until that is done, or its lock is known
   * lost, so that a hand-back that failed part-way is done again when
   * retried. A worker that dies meanwhile leaves the job to the stalled
   * check, as claimed or RUNNING.
   */
  async release(workerId: string, held: readonly HeldTask[]): Promise<void> {
    return this.store.guarded(this.handBack(workerId, held));
  }

  private async handBack(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<void> {
    const entries = held
      .map(({ id, attempt }) => this.held.holding(workerId, id, attempt))
      .filter((entry): entry is HeldJob => entry !== undefined);
    if (entries.length === 0) return;
    const cancelled = await this.cancelRequested(
      entries.map((entry) => entry.claimed.id),
    );
    const handed = await Promise.allSettled(
      entries.map(async (entry) => {
        const { job, token, claimed, previousMark } = entry;
        if (cancelled.has(claimed.id))
          await this.settle(
            job,
            token,
            attemptCancelled(
              { data: claimed, retryAt: null },
              (entry.cancelledAt ??= new Date()),
            ),
            previousMark,
          );
        else await this.held.restore(job, token, previousMark);
        this.held.release(workerId, entry);
      }),
    );
    const failed = handed.find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Redis refuses writes only when out of memory; everything else is a lost connection. */
  isRefusal(error: unknown): boolean {
    return /\bOOM\b/.test((error as Error)?.message ?? '');
  }

  /** Extends the locks this worker holds; reports those it no longer holds, and those whose cancel was requested. */
  async heartbeat(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<HeartbeatReport> {
    return this.store.guarded(this.extendLeases(workerId, held));
  }

  private async extendLeases(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<HeartbeatReport> {
    const lost: string[] = [];
    const byQueue = new Map<string, HeldJob[]>();
    for (const { id, attempt } of held) {
      const entry = this.held.holding(workerId, id, attempt);
      if (!entry) {
        lost.push(id);
        continue;
      }
      const entries = byQueue.get(entry.job.queueName) ?? [];
      entries.push(entry);
      byQueue.set(entry.job.queueName, entries);
    }
    for (const [queueName, entries] of byQueue) {
      const worker = await this.store.worker(queueName);
      const failed = await worker.extendJobLocks(
        entries.map((entry) => String(entry.job.id)),
        entries.map((entry) => entry.token),
        this.leaseMs,
      );
      for (const entry of entries.filter((entry) =>
        failed.includes(String(entry.job.id)),
      )) {
        // One whose outcome was sent stays held: writing it again tells whether that write took.
        if (!entry.ending) this.held.release(workerId, entry);
        lost.push(String(entry.job.id));
      }
    }
    await this.beat(workerId);
    const stillHeld = held
      .map(({ id }) => id)
      .filter((id) => !lost.includes(id));
    return { lost, cancelled: [...(await this.cancelRequested(stillHeld))] };
  }

  /** Records the worker's heartbeat (registering it again if it was removed meanwhile). */
  private async beat(workerId: string): Promise<void> {
    const worker = this.registered.get(workerId);
    if (!worker) return;
    worker.heartbeatAt = Date.now();
    const client = await this.store.client();
    await client.hset(this.store.key('workers'), {
      [workerId]: JSON.stringify(worker),
    });
  }

  watchCancels(onCancel: (id: string) => void): () => void {
    this.store.localCancelWatchers.add(onCancel);
    return () => this.store.localCancelWatchers.delete(onCancel);
  }

  /**
   * Runs BullMQ's stalled check on the queues the worker takes from (at
   * most once per `stalledInterval` across all processes): jobs whose lock
   * ran out, already seen active by the previous check, go back to
   * waiting, to be settled by the attempt policy when next claimed.
   */
  async rescueExpired(rescuerId: string): Promise<number> {
    const queues =
      this.registered.get(rescuerId)?.queues.filter((name) => name !== '*') ??
      [];
    let rescued = 0;
    for (const name of queues.length
      ? queues
      : await this.store.knownQueues()) {
      const worker = await this.store.worker(name);
      rescued += (await worker.backend.moveStalledJobsToWait()).length;
    }
    return rescued;
  }

  async saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const held = this.held.get(workerId, id);
    if (!held) return;
    const data = { ...held.data, progress, metadata };
    if (await this.held.write(held.job, held.token, data)) held.data = data;
  }

  /** Takes the tick when it is later than the task's last one, then enqueues it. */
  async claimTick(
    taskName: string,
    tick: Date,
    enqueue: (transaction: null) => Promise<void>,
  ): Promise<boolean> {
    const client = await this.store.client();
    if (
      !(await RedisScripts.claimTick(
        client,
        this.store.key('ticks'),
        taskName,
        tick.getTime(),
      ))
    )
      return false;
    await enqueue(null);
    return true;
  }

  /**
   * Wakes when jobs wait in the backend's queues, as BullMQ's own workers
   * wake: on the queues' markers (see `QueueMarkers`), which BullMQ sets
   * when jobs are enqueued, fall due or are put back; and on every enqueue
   * in this process. A marker goes to one process, one whose workers
   * `wantsWork`. Only the queues in `queues` (null: every one) are watched,
   * each over a connection of its own; one used for the first time after
   * the listen began is watched from its announcement on (see
   * `BullMQStore.onNewQueues`).
   */
  async listen(
    onWake: () => void,
    wantsWork: () => boolean = () => true,
    queues: readonly string[] | null = null,
  ): Promise<() => Promise<void>> {
    this.store.localWakers.add(onWake);
    const listening: Listening = {
      listener: { onWake, wantsWork },
      serves: (name) => !queues || queues.includes(name),
      queues: new Set(),
      stops: [],
    };
    this.listening.add(listening);
    const stop = async () => {
      this.store.localWakers.delete(onWake);
      this.listening.delete(listening);
      for (const stopOne of listening.stops) stopOne();
    };
    try {
      listening.stops.push(
        await this.store.onNewQueues((name) =>
          this.watch(listening, [name]).catch(() => undefined),
        ),
      );
      await this.watch(listening, await this.store.knownQueues());
    } catch (error) {
      await stop();
      throw error;
    }
    return stop;
  }

  /** Wakes `listening` on the markers of each of `names` that does not wake it yet. */
  private async watch(
    listening: Listening,
    names: readonly string[],
  ): Promise<void> {
    for (const name of names) {
      if (listening.queues.has(name) || !listening.serves(name)) continue;
      listening.queues.add(name);
      let markers: QueueMarkers;
      try {
        markers = await this.markersOf(name);
      } catch (error) {
        listening.queues.delete(name);
        throw error;
      }
      const stop = markers.listen(listening.listener);
      if (this.listening.has(listening)) listening.stops.push(stop);
      else stop();
    }
  }

  /** The marker watch of a queue, made at its first listener; each wait goes through the queue's current Worker. */
  private async markersOf(queueName: string): Promise<QueueMarkers> {
    // Opened before listening, so that a queue that cannot be reached fails the listen.
    await this.store.worker(queueName);
    let markers = this.markers.get(queueName);
    if (!markers) {
      const worker = () => this.store.worker(queueName);
      markers = new QueueMarkers({
        take: async (seconds) => (await worker()).backend.waitForJob(seconds),
        putBack: async () =>
          RedisScripts.setMarker(
            await this.store.client(),
            (await worker()).keys,
          ),
      });
      this.markers.set(queueName, markers);
    }
    return markers;
  }

  /** The ids among `ids` whose cancel was requested. */
  private async cancelRequested(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const client = await this.store.client();
    const requested = await client.hmget(this.store.key('cancels'), ...ids);
    return new Set(ids.filter((_, index) => requested[index] !== null));
  }

  private async clearCancels(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const client = await this.store.client();
    await client.hdel(this.store.key('cancels'), ...ids);
  }
}
