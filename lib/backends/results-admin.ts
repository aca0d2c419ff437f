import type { TaskResultData } from '../task/task-result-data.js';
import type { TaskResultStatus } from '../task/task-result-status.js';

/** Which results a list or a bulk action covers; every field given narrows it. */
export interface ResultFilter {
  taskName?: string;
  status?: TaskResultStatus;
  queue?: string;
  id?: string;
}

/** One page of a results list. */
export interface ResultQuery extends ResultFilter {
  /** Results per page. */
  limit: number;
  /** The `next` cursor of the previous page; absent for the first page. */
  after?: string;
}

/**
 * A page of results, newest first: by when they finished when the filter
 * names a finished status, else by when they were enqueued.
 */
export interface ResultPage {
  results: TaskResultData[];
  /** The cursor of the next page, or null on the last one. */
  next: string | null;
  /**
   * Set when the backend stopped searching after reading this many results
   * without filling the page (a filter no index serves): older matches may
   * remain, and `next` goes on searching from where it stopped.
   */
  stoppedAfter?: number;
  /**
   * How the page is ordered, in words for the operator, where a backend
   * keeps no enqueue order to list unfinished results by.
   */
  order?: string;
}

/** Results that finished in one time bucket, per queue and final status. */
export interface ActivityBucket {
  /** The bucket's start. */
  start: Date;
  queue: string;
  status: TaskResultStatus;
  count: number;
}

/** What a retry did. */
export interface RetryOutcome {
  /** The result, READY again under the same id, with one more attempt allowed. */
  result: TaskResultData;
}

/**
 * Browsing and acting on a backend's results: what the dashboard uses,
 * offered through `BackendAdmin.results` where the backend keeps results it
 * can list.
 */
export interface ResultsAdmin {
  /** A page of results matching the query, newest first (see `ResultPage`). */
  list(query: ResultQuery): Promise<ResultPage>;
  /** One result, or null when the id is unknown. */
  find(id: string): Promise<TaskResultData | null>;
  /** Results finished since `since`, counted per bucket of `bucketMs`, queue and status. */
  activity(since: Date, bucketMs: number): Promise<ActivityBucket[]>;
  /**
   * Runs a FAILED or CANCELLED result again as a new attempt of the same
   * result (same id; its errors and attempts kept, one attempt more
   * allowed). Anything else is refused with `InvalidTaskError`.
   */
  retry(id: string): Promise<RetryOutcome>;
  /**
   * Retries every FAILED or CANCELLED result matching the filter (with
   * `asOf`, only those finished at or before it: what a page rendered then
   * showed, so that a second submission does not retry again); returns how
   * many.
   */
  retryMatching(filter: ResultFilter, asOf?: Date): Promise<number>;
  /**
   * Cancels every READY or RUNNING result matching the filter (with `asOf`,
   * only those enqueued at or before it), as `TaskQueue.cancel` does one;
   * returns how many.
   */
  cancelMatching(filter: ResultFilter, asOf?: Date): Promise<number>;
}
