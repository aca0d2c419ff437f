import type {
  BackendAdmin,
  BackendStatus,
  PruneRequest,
} from '../backend-admin.js';
import type { ResultsAdmin } from '../results-admin.js';
import type { DatabaseStore } from './database-store.js';
import { DatabaseResultsAdmin } from './database-results-admin.js';

/** What `tasks:status`, `tasks:prune` and the dashboard do on a DatabaseBackend. */
export class DatabaseAdmin implements BackendAdmin {
  readonly results: ResultsAdmin;

  constructor(
    alias: string,
    private readonly store: DatabaseStore,
  ) {
    this.results = new DatabaseResultsAdmin(alias, store);
  }

  async prune(request: PruneRequest): Promise<number> {
    const { tasks } = await this.store.open();
    return tasks.prune(
      request.statuses,
      request.finishedBefore.getTime(),
      request.batchSize,
      request.dryRun,
    );
  }

  async oldestDueReady(): Promise<Date | null> {
    const { tasks } = await this.store.open();
    const oldest = await tasks.oldestDueReady(Date.now());
    return oldest === null ? null : new Date(oldest);
  }

  async status(): Promise<BackendStatus> {
    const { sql, tasks, workers, schedules } = await this.store.open();
    const live = await workers.workers(this.store.settings.leaseMs);
    // Tables behind this version have no schedules table yet: no ticks to show.
    const ticks = await schedules.lastTicks().catch((error: unknown) => {
      if (sql.dialect.isMissingTable(error)) return [];
      throw error;
    });
    return {
      counts: await tasks.counts(),
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
