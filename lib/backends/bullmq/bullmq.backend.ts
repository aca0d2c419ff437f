import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import {
  attemptInterrupted,
  type AttemptVerdict,
} from '../../execution/attempt-policy.js';
import type { TaskDefinition } from '../../task/task-definition.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import {
  isFinishedStatus,
  TaskResultStatus,
} from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type { BackendAdmin } from '../backend-admin.js';
import {
  TaskBackend,
  type TaskBackendSettings,
  type TaskCheckMessage,
} from '../backend.js';
import type { WorkerQueue } from '../worker-queue.js';
import { BullMQAdmin } from './bullmq-admin.js';
import {
  REMOVING_JOB_OPTIONS,
  resolveBullMQOptions,
} from './bullmq-backend.options.js';
import { BullMQStore, CONTROL_QUEUE, type MarkedJob } from './bullmq-store.js';
import { BullMQWorkerQueue } from './bullmq-worker-queue.js';
import {
  availableAtOf,
  decodeJob,
  countedAttemptOf,
  encodeTask,
  WAITING_STATES,
  type JobFields,
} from './job-codec.js';
import type { JobToAdd } from './job-adds.js';
import { RedisScripts } from './redis-scripts.js';

/**
 * BullMQ's priority of a task's: BullMQ runs lower numbers first and
 * jobs without one (0) before all others, so every task gets one, from 1
 * (the project's 100) to 201 (its -100).
 */
const bullmqPriority = (priority: number): number => 101 - priority;

/** Job options the backend sets itself for every task: set in `defaultJobOptions`, they are ignored. */
const OWN_JOB_OPTIONS = [
  'jobId',
  'priority',
  'delay',
  'attempts',
  'backoff',
  'deduplication',
];

/** How many times a cancel reads a job that keeps changing under it before it gives up. */
const CANCEL_TRIES = 10;

/**
 * Stores tasks as BullMQ jobs in Redis, one BullMQ queue per task queue;
 * `tasks:work` workers (and the in-process worker) run them, claiming jobs
 * with BullMQ's manual processing. Every result's state lives on its job
 * (its data, progress and return value) and is read back from any process.
 * Connections open on first use and close on shutdown. The `bullmq`
 * package is an optional peer, loaded on first use.
 */
export class BullMQBackend extends TaskBackend {
  override readonly supportsDefer = true;
  override readonly supportsPriority = true;
  override readonly supportsGetResult = true;
  /** A job's id is its result's: adding a job whose id exists is a no-op. */
  override readonly supportsRelay = true;
  private readonly store: BullMQStore;
  private queue?: BullMQWorkerQueue;
  private administration?: BullMQAdmin;

  constructor(alias: string, settings: TaskBackendSettings = {}) {
    super(alias, settings);
    this.store = new BullMQStore(
      alias,
      resolveBullMQOptions(alias, this.options),
      this.queues,
    );
  }

  override workerQueue(): WorkerQueue {
    this.queue ??= new BullMQWorkerQueue(this.store, {
      toResult: (data) => this.toResult(data),
      emit: (event, result) => this.host.emit(event, result),
      interrupted: (data) => this.interrupted(data),
      cancel: (id) => this.cancel(id),
    });
    return this.queue;
  }

  override admin(): BackendAdmin {
    this.administration ??= new BullMQAdmin(this.store, {
      decode: (job, state) => this.decode(job, state),
      cancel: (id) => this.cancel(id),
    });
    return this.administration;
  }

  override validateTask(task: TaskDefinition<any, any>): void {
    super.validateTask(task);
    if (task.queueName.includes(':') || task.queueName === CONTROL_QUEUE)
      throw new InvalidTaskError(
        TaskMessages.bullmqQueueName(task.name, task.queueName),
      );
  }

  async enqueue(
    task: TaskDefinition<any, any>,
    rows: TaskResultData[],
  ): Promise<TaskResult<any>[]> {
    const fail = (error: unknown): never => {
      throw error instanceof InvalidTaskBackendError
        ? error
        : new InvalidTaskBackendError(
            TaskMessages.bullmqEnqueueFailed(
              this.alias,
              task.name,
              rows.length,
              (error as Error)?.message ?? String(error),
            ),
            { cause: error },
          );
    };
    const now = Date.now();
    const jobs = rows.map((data): JobToAdd => {
      const availableAt =
        data.runAfter?.getTime() ?? data.enqueuedAt?.getTime() ?? now;
      return {
        name: data.taskName,
        data: encodeTask(data, availableAt),
        opts: {
          jobId: data.id,
          priority: bullmqPriority(data.priority),
          delay: Math.max(0, availableAt - now),
          attempts: 1,
          backoff: undefined,
          deduplication:
            data.uniqueKey === null
              ? undefined
              : { id: `${data.taskName}:${data.uniqueKey}` },
        },
      };
    });
    const added = await this.store.addJobs(task.queueName, jobs).catch(fail);
    const stored: TaskResult<any>[] = [];
    const results = rows.map(
      (data, index): TaskResult<any> | Promise<TaskResult<any>> => {
        // A unique task's key held by a waiting or running job: that job is the result.
        if (added[index] !== data.id) return this.getResult(added[index]);
        const result = this.toResult(data);
        stored.push(result);
        return result;
      },
    );
    // Read before the events are emitted, as the jobs were when added.
    const read =
      stored.length === rows.length
        ? (results as TaskResult<any>[])
        : Promise.all(results);
    if (stored.length > 0) this.store.wakeLocalWorkers();
    if (read instanceof Promise) read.catch(() => undefined);
    for (const result of stored) await this.host.emit('enqueued', result);
    return read;
  }

  protected override storedIds(
    rows: readonly TaskResultData[],
  ): Promise<Set<string>> {
    return this.store.existingJobs(rows);
  }

  protected override async loadResult(id: string): Promise<TaskResultData> {
    return (await this.read(id)).data;
  }

  /**
   * A READY result becomes CANCELLED at once (its job moved to BullMQ's
   * failed jobs). A RUNNING one keeps running until its worker learns of
   * the request (at once in this process, else at its next heartbeat) and
   * aborts its signal; its attempt then ends CANCELLED, never retried.
   */
  override async cancel(id: string): Promise<TaskResult<unknown>> {
    let requested = false;
    for (let tries = 0; tries < CANCEL_TRIES; tries++) {
      const { job, state, data } = await this.read(id);
      if (requested && data.status === TaskResultStatus.CANCELLED)
        return this.toResult(data);
      if (isFinishedStatus(data.status))
        throw new InvalidTaskError(TaskMessages.cannotCancel(id, data.status));
      if (state !== 'active') {
        const cancelled: TaskResultData = {
          ...data,
          status: TaskResultStatus.CANCELLED,
          finishedAt: new Date(),
        };
        const queue = await this.store.queue(job.queueName);
        const client = await this.store.client();
        const outcome = await RedisScripts.cancelWaiting(
          client,
          {
            job: this.store.queuePrefix(job.queueName) + id,
            wait: queue.keys.wait,
            paused: queue.keys.paused,
            prioritized: queue.keys.prioritized,
            delayed: queue.keys.delayed,
            failed: queue.keys.failed,
            events: queue.keys.events,
            deduplicationPrefix: `${this.store.queuePrefix(job.queueName)}de:`,
          },
          id,
          { data: JSON.stringify(job.data), mark: job.attemptMark ?? '' },
          JSON.stringify(
            encodeTask(cancelled, availableAtOf(job), countedAttemptOf(job)),
          ),
          TaskMessages.bullmqCancelledReason(),
        );
        if (outcome === 'cancelled') return this.toResult(cancelled);
        if (outcome !== 'active') continue;
      }
      const client = await this.store.client();
      await client.hset(this.store.key('cancels'), { [id]: Date.now() });
      requested = true;
      // The attempt may have ended meanwhile, before its worker saw the request: then cancel what it left.
      if ((await this.read(id)).state !== 'active') {
        await client.hdel(this.store.key('cancels'), id);
        continue;
      }
      this.store.cancelLocally(id);
      return this.toResult(data);
    }
    throw new InvalidTaskBackendError(
      TaskMessages.bullmqCancelRaced(this.alias, id, CANCEL_TRIES),
    );
  }

  override async check(): Promise<TaskCheckMessage[]> {
    const messages: TaskCheckMessage[] = [];
    const defaults = (this.store.settings.queueOptions.defaultJobOptions ??
      {}) as Record<string, unknown>;
    const removing = REMOVING_JOB_OPTIONS.filter(
      (key) => defaults[key] !== undefined && defaults[key] !== false,
    );
    if (removing.length)
      messages.push({
        level: 'warning',
        message: TaskMessages.bullmqRemovesResults(this.alias, removing),
      });
    const ignored = OWN_JOB_OPTIONS.filter((key) => key in defaults);
    if (ignored.length)
      messages.push({
        level: 'warning',
        message: TaskMessages.bullmqJobOptionsIgnored(this.alias, ignored),
      });
    try {
      const info = await (await this.store.client()).info();
      const policy = /maxmemory_policy:(\S+)/.exec(info)?.[1];
      if (policy && policy !== 'noeviction')
        messages.push({
          level: 'error',
          message: TaskMessages.bullmqEvictionPolicy(this.alias, policy),
        });
    } catch (error) {
      messages.push({
        level: 'error',
        message: TaskMessages.bullmqCheckFailed(
          this.alias,
          (error as Error)?.message ?? String(error),
        ),
      });
    }
    return messages;
  }

  override async close(): Promise<void> {
    await this.store.close();
  }

  /** A result's job, its BullMQ state and its state as a result; `TaskResultDoesNotExistError` when unknown. */
  private async read(
    id: string,
  ): Promise<{ job: MarkedJob; state: string; data: TaskResultData }> {
    const found = await this.store.findJobState(id);
    if (!found)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    const { job, state } = found;
    return { job, state, data: this.decode(job, state) };
  }

  /** A job's result in BullMQ's `state`, as the backend reads it. */
  private decode(job: JobFields, state: string): TaskResultData {
    const { data } = decodeJob(job, state);
    // Put back by BullMQ's stalled check: settled so when next claimed.
    if (data.status === TaskResultStatus.RUNNING && WAITING_STATES.has(state))
      return this.interrupted(data).data;
    return data;
  }

  /** The attempt policy's verdict on an attempt whose worker stopped heartbeating. */
  private interrupted(data: TaskResultData): AttemptVerdict {
    return attemptInterrupted(
      this.toResult(data),
      TaskMessages.leaseExpired(
        data.workerIds.at(-1) ?? '(unknown)',
        data.taskName,
        data.attempts,
      ),
    );
  }
}
