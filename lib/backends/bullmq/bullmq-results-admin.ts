import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type {
  ActivityBucket,
  ResultFilter,
  ResultPage,
  ResultQuery,
  ResultsAdmin,
  RetryOutcome,
} from '../results-admin.js';
import type { BullMQStore } from './bullmq-store.js';
import {
  ATTEMPT_FIELD,
  countedAttemptOf,
  decodeJob,
  encodeTask,
  type JobFields,
} from './job-codec.js';
import { checkFilter, checkValue } from './result-filter.js';
import { ResultScripts } from './result-scripts.js';
import {
  encodePosition,
  planOf,
  ResultWalk,
  shifted,
  type WalkFilter,
  type WalkMatch,
  type WalkPlan,
  type WalkPosition,
} from './result-walk.js';

const { READY, RUNNING, FAILED, CANCELLED } = TaskResultStatus;

/**
 * Jobs a page reads at most when its filter is one no line serves alone
 * (a task, or FAILED and CANCELLED, which share BullMQ's failed jobs): it
 * stops there, found or not, and its `next` goes on from there.
 */
export const SEARCH_BOUND = 10_000;
/** Jobs a bulk action finds and acts on per round. */
const BULK_BATCH = 500;
/** Jobs acted on at once within a round. */
const BULK_PARALLEL = 25;
/** Finished jobs of each queue and set `activity` counts at most, the latest first. */
const ACTIVITY_BOUND = 10_000;

/** How a list of each status is ordered (BullMQ keeps no enqueue order to list unfinished jobs by). */
const ORDER: Record<TaskResultStatus | 'any', string | undefined> = {
  any: 'RUNNING (most recently started first), then READY (deferred ones latest due first, then last in line first), then most recently finished first',
  [READY]: 'deferred ones latest due first, then last in line first',
  [RUNNING]: 'most recently started first',
  [TaskResultStatus.SUCCESSFUL]: undefined,
  [FAILED]: undefined,
  [CANCELLED]: undefined,
};

/** What the results administration needs from its backend. */
export interface BullMQResultsHost {
  /** A job's result as the backend reads it in BullMQ's `state`. */
  decode(job: JobFields, state: string): TaskResultData;
  /** Cancels a result, as `TaskQueue.cancel` does. */
  cancel(id: string): Promise<TaskResult<unknown>>;
}

/** A result's job, and the queue it is in. */
interface Located {
  queue: string;
  data: TaskResultData;
}

/**
 * The dashboard's reads and actions on a BullMQBackend, on BullMQ's own
 * lines of each queue (see `ResultWalk`): a list of one status walks the
 * lines of that status, newest first (finished ones by BullMQ's finish
 * time); a list of every status walks the RUNNING, then the READY lines,
 * then the finished sets.
 */
export class BullMQResultsAdmin implements ResultsAdmin {
  constructor(
    private readonly store: BullMQStore,
    private readonly host: BullMQResultsHost,
  ) {}

  async list(query: ResultQuery): Promise<ResultPage> {
    const { limit: asked, after, ...filter } = query;
    checkFilter(filter);
    const limit = Math.max(1, Math.floor(asked));
    if (filter.id !== undefined) {
      const found = await this.locate(filter.id);
      const shown = found && matches(found, filter) ? [found.data] : [];
      return { results: shown, next: null };
    }
    const walk = await this.walkOf(filter, planOf(filter.status), {
      taskName: filter.taskName,
    });
    const from = after === undefined ? undefined : walk.parse(after);
    const outcome = await this.store.guarded(
      walk.walk(limit + 1, SEARCH_BOUND, from),
    );
    const shown = outcome.matches.slice(0, limit);
    const results = (await this.decodeAll(shown)).filter(
      (data) => filter.status === undefined || data.status === filter.status,
    );
    const order = ORDER[filter.status ?? 'any'];
    if (outcome.matches.length > limit)
      return {
        results,
        next: encodePosition(shown[shown.length - 1].at),
        order,
      };
    return outcome.frontier
      ? {
          results,
          next: encodePosition(outcome.frontier),
          stoppedAfter: outcome.read,
          order,
        }
      : { results, next: null, order };
  }

  async find(id: string): Promise<TaskResultData | null> {
    checkValue('id', id);
    return (await this.locate(id))?.data ?? null;
  }

  async activity(since: Date, bucketMs: number): Promise<ActivityBucket[]> {
    const client = await this.store.client();
    const width = Math.max(1, Math.floor(bucketMs));
    const reason = TaskMessages.bullmqCancelledReason();
    const buckets: ActivityBucket[] = [];
    for (const queue of await this.store.knownQueues()) {
      const prefix = this.store.queuePrefix(queue);
      for (const set of ['completed', 'failed'] as const) {
        const counts = await this.store.guarded(
          ResultScripts.countFinished(
            client,
            prefix + set,
            prefix,
            since.getTime(),
            width,
            ACTIVITY_BOUND,
            set === 'failed' ? reason : '',
          ),
        );
        for (const { start, cancelled, count } of counts)
          buckets.push({
            start: new Date(start),
            queue,
            status:
              set === 'completed'
                ? TaskResultStatus.SUCCESSFUL
                : cancelled
                  ? CANCELLED
                  : FAILED,
            count,
          });
      }
    }
    return buckets;
  }

  async retry(id: string): Promise<RetryOutcome> {
    checkValue('id', id);
    const before = await this.locate(id);
    if (!before)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.store.alias),
      );
    const { status, uniqueKey } = before.data;
    if (status !== FAILED && status !== CANCELLED)
      throw new InvalidTaskError(TaskMessages.cannotRetry(id, status));
    const retried = await this.retryIn(before.queue, id);
    if (retried.data) {
      this.store.wakeLocalWorkers();
      return { result: retried.data };
    }
    if (retried.answer === 'held')
      throw new InvalidTaskError(
        TaskMessages.retryHeldKey(id, uniqueKey ?? ''),
      );
    if (retried.answer === 'damaged')
      throw new InvalidTaskError(
        TaskMessages.retryDamaged(id, retried.problem ?? ''),
      );
    // Changed in between (retried or deleted by another request).
    const after = await this.locate(id);
    throw new InvalidTaskError(
      TaskMessages.cannotRetry(id, after?.data.status ?? status),
    );
  }

  async retryMatching(filter: ResultFilter, asOf?: Date): Promise<number> {
    checkFilter(filter);
    const finishedBy = asOf?.getTime();
    if (filter.status !== undefined && !retryable(filter.status)) return 0;
    if (filter.id !== undefined) {
      const found = await this.locate(filter.id);
      const wanted =
        found &&
        matches(found, filter) &&
        retryable(found.data.status) &&
        (finishedBy === undefined ||
          (found.data.finishedAt?.getTime() ?? 0) <= finishedBy);
      if (!wanted) return 0;
      const { answer } = await this.retryIn(found.queue, filter.id);
      if (answer === 'retried') this.store.wakeLocalWorkers();
      return answer === 'retried' ? 1 : 0;
    }
    const plan: WalkPlan = {
      ...planOf(filter.status ?? FAILED),
      cancelled:
        filter.status === undefined ? undefined : filter.status === CANCELLED,
    };
    let total = 0;
    await this.eachBatch(
      filter,
      plan,
      { taskName: filter.taskName, finishedBy },
      async (match) => {
        const { answer } = await this.retryIn(match.queue, match.id);
        if (answer === 'retried') total++;
        return false;
      },
    );
    if (total > 0) this.store.wakeLocalWorkers();
    return total;
  }

  async cancelMatching(filter: ResultFilter, asOf?: Date): Promise<number> {
    checkFilter(filter);
    const addedBy = asOf?.getTime();
    const { status } = filter;
    if (status !== undefined && status !== READY && status !== RUNNING)
      return 0;
    let total = 0;
    const cancel = async (id: string): Promise<boolean> => {
      try {
        const result = await this.host.cancel(id);
        total++;
        return result.status === CANCELLED;
      } catch (error) {
        // Finished or deleted meanwhile.
        if (
          error instanceof InvalidTaskError ||
          error instanceof TaskResultDoesNotExistError
        )
          return false;
        throw error;
      }
    };
    if (filter.id !== undefined) {
      const found = await this.locate(filter.id);
      const live =
        found?.data.status === READY || found?.data.status === RUNNING;
      const wanted =
        found &&
        live &&
        matches(found, filter) &&
        (addedBy === undefined ||
          (found.data.enqueuedAt?.getTime() ?? 0) <= addedBy);
      if (wanted) await cancel(filter.id);
      return total;
    }
    const plan = planOf(status);
    await this.eachBatch(
      filter,
      { ...plan, sets: [] },
      { taskName: filter.taskName, addedBy },
      (match) => cancel(match.id),
    );
    return total;
  }

  /**
   * Runs `act` on every job a walk of `plan` finds, a batch at a time,
   * newest first; `act` answers whether the job left its line (so that a
   * walk of a list goes on where the list now has the next job).
   */
  private async eachBatch(
    filter: ResultFilter,
    plan: WalkPlan,
    walkFilter: WalkFilter,
    act: (match: WalkMatch) => Promise<boolean>,
  ): Promise<void> {
    const walk = await this.walkOf(filter, plan, walkFilter);
    let after: WalkPosition | undefined;
    for (;;) {
      const { matches, frontier } = await this.store.guarded(
        walk.walk(BULK_BATCH, SEARCH_BOUND, after),
      );
      const left = new Set<string>();
      for (let at = 0; at < matches.length; at += BULK_PARALLEL)
        await Promise.all(
          matches.slice(at, at + BULK_PARALLEL).map(async (match) => {
            if (await act(match)) left.add(match.id);
          }),
        );
      const next =
        matches.length >= BULK_BATCH
          ? matches[matches.length - 1].at
          : frontier;
      if (!next) return;
      after = shifted(next, matches, left);
    }
  }

  /**
   * Retries a failed job as a new attempt of its result (see
   * `ResultScripts.retryFailed`): READY, due now, one attempt more
   * allowed, its attempts and errors kept.
   */
  private async retryIn(
    queue: string,
    id: string,
  ): Promise<{
    answer: 'retried' | 'gone' | 'changed' | 'held' | 'damaged';
    /** Its result as retried, when it was. */
    data: TaskResultData | null;
    /** What is wrong with its stored data, when it is damaged. */
    problem?: string;
  }> {
    const read = await this.readJob(queue, id);
    if (!read) return { answer: 'gone', data: null };
    // Its arguments, or anything else, would be made up: never run so, never written over.
    const { problem } = decodeJob(read.fields, 'failed');
    if (problem)
      return { answer: 'damaged', data: null, problem: problem.message };
    const data = this.host.decode(read.fields, 'failed');
    const now = Date.now();
    const retried: TaskResultData = {
      ...data,
      status: READY,
      finishedAt: null,
      returnValue: null,
      progress: null,
      maxAttempts: data.attempts + 1,
    };
    const prefix = this.store.queuePrefix(queue);
    const key = (name: string) => prefix + name;
    const answer = await this.store.guarded(
      ResultScripts.retryFailed(
        await this.store.client(),
        {
          job: prefix + id,
          failed: key('failed'),
          wait: key('wait'),
          prioritized: key('prioritized'),
          pc: key('pc'),
          marker: key('marker'),
          meta: key('meta'),
          active: key('active'),
          events: key('events'),
          cancels: this.store.key('cancels'),
        },
        id,
        read.raw,
        JSON.stringify(encodeTask(retried, now, countedAttemptOf(read.fields))),
        prefix,
      ),
    );
    return { answer, data: answer === 'retried' ? retried : null };
  }

  /** The job of a result id, and its queue; null when unknown. */
  private async locate(id: string): Promise<Located | null> {
    const found = await this.store.findJobState(id);
    if (!found) return null;
    const { job, state } = found;
    return { queue: job.queueName, data: this.host.decode(job, state) };
  }

  /** The results of jobs a walk found, in its order; those gone meanwhile left out. */
  private async decodeAll(found: WalkMatch[]): Promise<TaskResultData[]> {
    const jobs = await this.store.guarded(
      Promise.all(found.map((match) => this.readJob(match.queue, match.id))),
    );
    return jobs.flatMap((job, i) =>
      job ? [this.host.decode(job.fields, found[i].state)] : [],
    );
  }

  /** The fields of a job the codec reads, and its data as stored; null when it is gone. */
  private async readJob(
    queue: string,
    id: string,
  ): Promise<{ fields: JobFields; raw: string } | null> {
    const client = await this.store.client();
    const [
      raw,
      returnvalue,
      failedReason,
      finishedOn,
      timestamp,
      attemptMark,
      attemptsMade,
    ] = await client.hmget(
      this.store.queuePrefix(queue) + id,
      'data',
      'returnvalue',
      'failedReason',
      'finishedOn',
      'timestamp',
      ATTEMPT_FIELD,
      'atm',
    );
    if (raw === null) return null;
    return {
      raw,
      fields: {
        id,
        data: parseJson(raw),
        returnvalue: returnvalue === null ? null : parseJson(returnvalue),
        failedReason: failedReason ?? undefined,
        finishedOn: finishedOn === null ? undefined : Number(finishedOn),
        timestamp: Number(timestamp ?? 0),
        attemptMark,
        attemptsMade,
      },
    };
  }

  /** The walk of the queues `filter` names (every known one, or its queue if known). */
  private async walkOf(
    filter: ResultFilter,
    plan: WalkPlan,
    walkFilter: WalkFilter,
  ): Promise<ResultWalk> {
    const known = [...(await this.store.knownQueues())].sort();
    const queues =
      filter.queue === undefined
        ? known
        : known.filter((name) => name === filter.queue);
    return new ResultWalk(this.store, queues, plan, walkFilter);
  }
}

const retryable = (status: TaskResultStatus): boolean =>
  status === FAILED || status === CANCELLED;

/** Whether a result is one `filter` selects. */
function matches({ queue, data }: Located, filter: ResultFilter): boolean {
  return (
    (filter.taskName === undefined || data.taskName === filter.taskName) &&
    (filter.queue === undefined || queue === filter.queue) &&
    (filter.status === undefined || data.status === filter.status)
  );
}

/** A job field's JSON, or its text when it is not JSON (the codec then reports the damage). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
