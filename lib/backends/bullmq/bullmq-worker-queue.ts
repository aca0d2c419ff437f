import { hostname } from 'node:os';
import type { Job, QueueEvents, Worker } from 'bullmq';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import {
  attemptCancelled,
  attemptStarted,
  type AttemptVerdict,
} from '../../execution/attempt-policy.js';
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
import { decodeJob } from './job-codec.js';
import { RedisScripts } from './redis-scripts.js';

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

/**
 * The BullMQBackend's queue for workers, on BullMQ's manual processing: a
 * claim takes jobs with `Worker.getNextJob` (BullMQ's order: priority, then
 * the order they became waiting) under a lock token per claim; the lock is
 * the lease, which heartbeats extend (`extendJobLocks`); outcomes are
 * written fenced by the lock and moved by BullMQ to completed, failed or
 * delayed (a retry). A job whose worker stopped heartbeating is put back
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
      return await this.guarded(claiming);
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
    let open = this.inTurn(
      workerId,
      queues ? [...queues] : await this.store.knownQueues(KNOWN_QUEUES_MS),
    );
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
   * Up to `count` jobs of a queue, taken together and started by
   * `workerId`, those that must not run (finished, interrupted, or
   * cancelled meanwhile) settled instead; `emptied` when the queue had
   * fewer; the first error met, if any. A job taken but not started is
   * handed back to waiting.
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
    const takes = await Promise.allSettled(
      Array.from({ length: count }, async () => {
        const token = HeldJobs.token(workerId);
        const job = (await worker.getNextJob(token, { block: false })) as
          Job | undefined;
        return job ? { job, token } : null;
      }),
    );
    const taken: { job: Job; token: string }[] = [];
    let emptied = false;
    let error: unknown;
    for (const outcome of takes)
      if (outcome.status === 'rejected') error ??= outcome.reason;
      else if (outcome.value) taken.push(outcome.value);
      else emptied = true;
    // Best effort: a job left behind comes back through the stalled check, as it was taken.
    const putBack = ({ job, token }: { job: Job; token: string }) =>
      this.held.restore(job, token).catch(() => undefined);
    let cancelled: Set<string>;
    try {
      cancelled = await this.cancelRequested(
        taken.map(({ job }) => String(job.id)),
      );
    } catch (failure) {
      await Promise.all(taken.map(putBack));
      return { started: [], emptied, error: error ?? failure };
    }
    const starts = await Promise.allSettled(
      taken.map((held) =>
        this.start(workerId, held.job, held.token, cancelled).catch(
          async (failure: unknown) => {
            await putBack(held);
            throw failure;
          },
        ),
      ),
    );
    const started: ClaimedTask[] = [];
    for (const outcome of starts)
      if (outcome.status === 'rejected') error ??= outcome.reason;
      else if (outcome.value !== 'settled') started.push(outcome.value);
    return { started, emptied, error };
  }

  private async start(
    workerId: string,
    job: Job,
    token: string,
    cancelRequested: ReadonlySet<string>,
  ): Promise<ClaimedTask | 'settled'> {
    const { data, problem } = decodeJob(job, 'active');
    if (isFinishedStatus(data.status)) {
      await this.held.finish(job, token, data, null);
      return 'settled';
    }
    const cancelled = cancelRequested.has(data.id);
    if (data.status === TaskResultStatus.RUNNING || cancelled) {
      let verdict: AttemptVerdict =
        data.status === TaskResultStatus.RUNNING
          ? this.host.interrupted(data)
          : { data, retryAt: null };
      if (cancelled) verdict = attemptCancelled(verdict);
      await this.settle(job, token, verdict);
      return 'settled';
    }
    const started = attemptStarted(data, workerId);
    if (!(await this.held.write(job, token, started))) return 'settled';
    this.held.set(workerId, {
      job,
      token,
      attempt: started.attempts,
      data: started,
      claimed: data,
    });
    return { result: this.host.toResult(started), problem };
  }

  /** Ends a taken job that must not run with `verdict`: back from BullMQ's stalled check (interrupted), or cancelled before it started. */
  private async settle(
    job: Job,
    token: string,
    verdict: AttemptVerdict,
  ): Promise<void> {
    const { data } = verdict;
    if (!(await this.held.finish(job, token, data, verdict.retryAt))) return;
    await this.clearCancels([data.id]);
    if (data.status !== TaskResultStatus.READY)
      await this.host.emit('finished', this.host.toResult(data));
  }

  async complete(records: readonly AttemptRecord[]): Promise<CompletionReport> {
    return this.guarded(this.writeOutcomes(records));
  }

  /**
   * Writes each record while its worker still holds the attempt, all at
   * once. A record whose write fails does not stop the others; the first
   * such error is thrown once all were tried, and a retry answers the ones
   * written meanwhile as written.
   */
  private async writeOutcomes(
    records: readonly AttemptRecord[],
  ): Promise<CompletionReport> {
    const cancelRequested = await this.cancelRequested(
      records.map((record) => record.data.id),
    );
    const outcomes = await Promise.allSettled(
      records.map((record) => this.writeOutcome(record, cancelRequested)),
    );
    const written: string[] = [];
    const cancelledIds: string[] = [];
    let failure: PromiseRejectedResult | undefined;
    outcomes.forEach((outcome, i) => {
      if (outcome.status === 'rejected') failure ??= outcome;
      else if (outcome.value) {
        written.push(records[i].data.id);
        if (outcome.value.cancelled) cancelledIds.push(records[i].data.id);
      }
    });
    if (failure) throw failure.reason;
    return { written, cancelled: cancelledIds };
  }

  /** Writes one record; undefined when its worker no longer holds the attempt. */
  private async writeOutcome(
    record: AttemptRecord,
    cancelRequested: ReadonlySet<string>,
  ): Promise<{ cancelled: boolean } | undefined> {
    const { workerId, attempt } = record;
    const { id } = record.data;
    const held = this.held.holding(workerId, id, attempt);
    if (!held) return this.held.endedLately(workerId, id, attempt);
    // Only the outcome: progress and metadata saved meanwhile stay.
    let verdict: AttemptVerdict = {
      data: {
        ...record.data,
        progress: held.data.progress,
        metadata: held.data.metadata,
      },
      retryAt: record.retryAt,
    };
    const cancelled = cancelRequested.has(id);
    if (cancelled) verdict = attemptCancelled(verdict);
    if (
      !(await this.held.finish(
        held.job,
        held.token,
        verdict.data,
        verdict.retryAt,
      ))
    ) {
      this.held.release(workerId, held);
      return undefined;
    }
    this.held.ended(workerId, held, cancelled);
    if (cancelled) await this.clearCancels([id]);
    else if (
      verdict.data.status === TaskResultStatus.READY &&
      (await this.cancelRequested([id])).has(id)
    )
      return this.cancelRetry(workerId, held);
    return { cancelled };
  }

  /** Cancels the retry an attempt just wrote, its cancel requested while the attempt was being written. */
  private async cancelRetry(
    workerId: string,
    held: HeldJob,
  ): Promise<{ cancelled: boolean }> {
    const id = String(held.job.id);
    let status: TaskResultStatus;
    try {
      status = (await this.host.cancel(id)).status;
    } catch (error) {
      // The requested cancel ended it first.
      if (error instanceof InvalidTaskError) return { cancelled: false };
      throw error;
    }
    // Else another worker started it meanwhile: the request stays for that attempt.
    if (status !== TaskResultStatus.CANCELLED) return { cancelled: false };
    await this.clearCancels([id]);
    this.held.ended(workerId, held, true);
    return { cancelled: true };
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
    return this.guarded(this.handBack(workerId, held));
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
        const { job, token, claimed } = entry;
        if (cancelled.has(claimed.id))
          await this.settle(
            job,
            token,
            attemptCancelled({ data: claimed, retryAt: null }),
          );
        else await this.held.restore(job, token);
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
    return this.guarded(this.extendLeases(workerId, held));
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
        this.held.release(workerId, entry);
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
   * Wakes on every job that becomes waiting in the backend's queues known
   * now (BullMQ's 'waiting' events: enqueued, due, or put back), and on
   * every enqueue in this process; tasks of queues first used later are
   * found by polling.
   */
  async listen(onWake: () => void): Promise<() => Promise<void>> {
    const wake = () => onWake();
    this.store.localWakers.add(onWake);
    const listening: QueueEvents[] = [];
    try {
      for (const name of await this.store.knownQueues()) {
        const events = await this.store.queueEvents(name);
        events.on('waiting', wake);
        listening.push(events);
      }
    } catch (error) {
      this.store.localWakers.delete(onWake);
      for (const events of listening) events.off('waiting', wake);
      throw error;
    }
    return async () => {
      this.store.localWakers.delete(onWake);
      for (const events of listening) events.off('waiting', wake);
    };
  }

  /** `work`, or a rejection naming Redis when the connection is lost meanwhile and stays lost. */
  private async guarded<T>(work: Promise<T>): Promise<T> {
    return this.store.guard(await this.store.client(), work);
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
