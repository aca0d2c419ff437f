import { InvalidTaskError } from '../../errors/invalid-task.error.js';
import { TaskResultDoesNotExistError } from '../../errors/task-result-does-not-exist.error.js';
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
import type { DatabaseStore } from './database-store.js';
import { checkFilterValue, checkResultFilter } from './result-filter-check.js';
import { ResultStore, type BatchBound } from './result-store.js';
import { decodeRow } from './task-row.js';

const { READY, RUNNING, FAILED, CANCELLED } = TaskResultStatus;

/** Rows a bulk action reads and changes per statement. */
const BULK_BATCH = 500;

/** The dashboard's reads and actions on a DatabaseBackend. */
export class DatabaseResultsAdmin implements ResultsAdmin {
  constructor(
    private readonly alias: string,
    private readonly store: DatabaseStore,
  ) {}

  private async open() {
    const opened = await this.store.open();
    return { ...opened, results: new ResultStore(opened.sql) };
  }

  async list(query: ResultQuery): Promise<ResultPage> {
    const { results } = await this.open();
    const { limit, after, ...filter } = query;
    checkResultFilter(filter);
    const page = await results.page(filter, limit, after);
    return {
      results: page.rows.map((row) => decodeRow(row).data),
      next: page.next,
      ...(page.stoppedAfter && { stoppedAfter: page.stoppedAfter }),
    };
  }

  async find(id: string): Promise<TaskResultData | null> {
    checkFilterValue('id', id);
    const row = await (await this.open()).tasks.find(id);
    return row ? decodeRow(row).data : null;
  }

  async activity(since: Date, bucketMs: number): Promise<ActivityBucket[]> {
    const { results } = await this.open();
    const rows = await results.activity(since.getTime(), bucketMs);
    return rows.map((row) => ({
      ...row,
      start: new Date(row.start),
      status: row.status as TaskResultStatus,
    }));
  }

  async retry(id: string): Promise<RetryOutcome> {
    const { results } = await this.open();
    const before = await this.find(id);
    if (!before)
      throw new TaskResultDoesNotExistError(
        TaskMessages.resultDoesNotExist(id, this.alias),
      );
    if (before.status !== FAILED && before.status !== CANCELLED)
      throw new InvalidTaskError(TaskMessages.cannotRetry(id, before.status));
    const changed = await this.retryHeld(results, before.id);
    const after = await this.find(id);
    // Changed in between (retried or deleted by another request).
    if (changed === 0 || !after)
      throw new InvalidTaskError(
        TaskMessages.cannotRetry(id, after?.status ?? before.status),
      );
    this.store.wakeLocalWorkers();
    return { result: after };
  }

  async retryMatching(filter: ResultFilter, asOf?: Date): Promise<number> {
    checkResultFilter(filter);
    const { results } = await this.open();
    let total = 0;
    const bound = asOf && { column: 'finished_at' as const, at: asOf };
    await this.eachBatch(filter, [FAILED, CANCELLED], bound, async (batch) => {
      try {
        total += await results.retry(batch.map((row) => row.id));
      } catch {
        // A unique key another result holds refuses the whole batch: row by row, leaving those.
        for (const row of batch)
          total += await this.retryHeld(results, row.id).catch(
            (error: unknown) => {
              if (error instanceof InvalidTaskError) return 0;
              throw error;
            },
          );
      }
    });
    if (total > 0) this.store.wakeLocalWorkers();
    return total;
  }

  /**
   * Retries one row; when the database refuses because another READY or
   * RUNNING result holds its unique key, an `InvalidTaskError` saying so.
   */
  private async retryHeld(results: ResultStore, id: string): Promise<number> {
    try {
      return await results.retry([id]);
    } catch (error) {
      const held = await results.keyHeldElsewhere(id);
      if (held !== null)
        throw new InvalidTaskError(TaskMessages.retryHeldKey(id, held), {
          cause: error,
        });
      throw error;
    }
  }

  async cancelMatching(filter: ResultFilter, asOf?: Date): Promise<number> {
    checkResultFilter(filter);
    const { tasks } = await this.open();
    let total = 0;
    const bound = asOf && { column: 'enqueued_at' as const, at: asOf };
    await this.eachBatch(filter, [READY, RUNNING], bound, async (batch) => {
      total += await tasks.cancelWhere(
        (where) =>
          `id IN (${where.list(
            batch.map((row) => row.id),
            'text',
          )})`,
      );
      for (const row of batch)
        if (row.status === RUNNING) this.store.cancelLocally(row.id);
    });
    return total;
  }

  /** Runs `act` on the rows matching `filter` in `statuses` (and `bound`), a batch at a time, oldest first. */
  private async eachBatch(
    filter: ResultFilter,
    statuses: readonly TaskResultStatus[],
    bound: BatchBound | undefined,
    act: (batch: { id: string; status: string }[]) => Promise<void>,
  ): Promise<void> {
    const { results } = await this.open();
    for (let afterSeq = 0; ;) {
      const batch = await results.batch(
        filter,
        statuses,
        afterSeq,
        BULK_BATCH,
        bound,
      );
      if (batch.length === 0) return;
      await act(batch);
      afterSeq = batch[batch.length - 1].seq;
      if (batch.length < BULK_BATCH) return;
    }
  }
}
