import { Injectable, NotFoundException } from '@nestjs/common';
import type { BackendStatus } from '../backends/backend-admin.js';
import type { TaskBackend } from '../backends/backend.js';
import type {
  ActivityBucket,
  ResultsAdmin,
} from '../backends/results-admin.js';
import { TaskRegistry } from '../discovery/task-registry.js';
import { TaskBackends } from '../dispatch/task-backends.js';
import { TasksError } from '../errors/tasks.error.js';
import { TaskMessages } from '../tasks.messages.js';

/** How far back the overview's activity goes, and the width of its buckets. */
export const ACTIVITY_WINDOW_MS = 60 * 60_000;
export const ACTIVITY_BUCKET_MS = 60_000;

/** One backend on the overview. */
export interface BackendOverview {
  alias: string;
  backendClass: string;
  /** Null when the backend keeps no results (ImmediateBackend, DummyBackend). */
  status: BackendStatus | null;
  /** Null when the backend offers no result browsing. */
  activity: ActivityBucket[] | null;
}

/** A periodic task on the overview. */
export interface PeriodicOverview {
  name: string;
  backend: string;
  queue: string;
  cron: string;
  timeZone: string;
  nextRun: Date | null;
  lastTick: Date | null;
}

/** What the overview shows. */
export interface Overview {
  backends: BackendOverview[];
  periodic: PeriodicOverview[];
  /** When it was read. */
  at: Date;
}

/** Reads what the dashboard shows from the configured backends and the task registry. */
@Injectable()
export class DashboardData {
  constructor(
    private readonly backends: TaskBackends,
    private readonly registry: TaskRegistry,
  ) {}

  /** The aliases of the backends, the default first. */
  aliases(): string[] {
    return this.backends.aliases();
  }

  /** The task names known to this application, sorted. */
  taskNames(): string[] {
    return this.registry.names().sort();
  }

  async overview(): Promise<Overview> {
    const now = new Date();
    const backends = await Promise.all(
      this.backends.all().map((backend) => this.backendOverview(backend, now)),
    );
    const periodic = this.registry.periodic().map((task) => {
      const status = backends.find(
        (entry) => entry.alias === task.definition.backend,
      )?.status;
      return {
        name: task.name,
        backend: task.definition.backend,
        queue: task.definition.queueName,
        cron: task.schedule.cron,
        timeZone: task.schedule.timeZone,
        nextRun: task.schedule.nextTick(now),
        lastTick:
          status?.lastTicks?.find((tick) => tick.taskName === task.name)
            ?.lastTick ?? null,
      };
    });
    return { backends, periodic, at: now };
  }

  /** The backend of `alias`; a 404 when none is configured. */
  backend(alias: string): TaskBackend {
    if (!this.backends.aliases().includes(alias))
      throw new NotFoundException(
        TaskMessages.unknownBackend(alias, this.backends.aliases()),
      );
    return this.backends.get(alias);
  }

  /** The result browsing of backend `alias`; a `TasksError` naming why when it has none. */
  results(alias: string): ResultsAdmin {
    const backend = this.backend(alias);
    const results = backend.admin()?.results;
    if (!results)
      throw new TasksError(
        TaskMessages.dashboardNoResultsAdmin(alias, backend.constructor.name),
      );
    return results;
  }

  private async backendOverview(
    backend: TaskBackend,
    now: Date,
  ): Promise<BackendOverview> {
    const admin = backend.admin();
    const since = new Date(now.getTime() - ACTIVITY_WINDOW_MS);
    return {
      alias: backend.alias,
      backendClass: backend.constructor.name,
      status: admin ? await admin.status() : null,
      activity: admin?.results
        ? await admin.results.activity(since, ACTIVITY_BUCKET_MS)
        : null,
    };
  }
}
