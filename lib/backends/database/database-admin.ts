import type {
  BackendAdmin,
  BackendStatus,
  PruneRequest,
  ResultCount,
} from '../backend-admin.js';
import type { ResultsAdmin } from '../results-admin.js';
import type { DatabaseStore } from './database-store.js';
import { DatabaseResultsAdmin } from './database-results-admin.js';
import { StatusCounts } from './status-counts.js';

/** What `tasks:status`, `tasks:prune` and the dashboard do on a DatabaseBackend. */
export class DatabaseAdmin implements BackendAdmin {
  readonly results: ResultsAdmin;

  constructor(
    alias: string,
    private readonly store: DatabaseStore,
  ) {
    this.results = new DatabaseResultsAdmin(alias, store);
  }

  /** A dry run counts as `tasks:status` does: exactly up to a bound, then by estimate. */
  async prune(request: PruneRequest): Promise<ResultCount> {
    const { sql, tasks } = await this.store.open();
    const before = request.finishedBefore.getTime();
    if (request.dryRun)
      return new StatusCounts(sql).finishedBefore(request.statuses, before);
    return {
      count: await tasks.prune(request.statuses, before, request.batchSize),
      precision: 'exact',
    };
  }

  async oldestDueReady(): Promise<Date | null> {
    const { tasks } = await this.store.open();
    const oldest = await tasks.oldestDueReady(Date.now());
    return oldest === null ? null : new Date(oldest);
  }

  async status(): Promise<BackendStatus> {
    const { sql, workers, schedules } = await this.store.open();
    const live = await workers.workers(this.store.settings.leaseMs);
    // Tables behind this version have no schedules table yet: no ticks to show.
    const ticks = await schedules.lastTicks().catch((error: unknown) => {
      if (sql.dialect.isMissingTable(error)) return [];
      throw error;
    });
    return {
      counts: await new StatusCounts(sql).counts(),
      lastTicks: ticks.map((row) => ({
        taskName: row.taskName,
        lastTick: new Date(row.lastTick),
      })),
      workers: live.map((worker) => ({
        ...worker,
        queues: JSON.parse(worker.queues) as string[],
        startedAt: new Date(worker.startedAt),
        heartbeatAt: new Date(worker.heartbeatAt),
      })),
    };
  }
}
