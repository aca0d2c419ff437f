import { Injectable } from '@nestjs/common';
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
import { DashboardRefusal } from './dashboard-refusal.js';

/** How far back the overview's activity goes, and the width of its buckets. */
export const ACTIVITY_WINDOW_MS = 60 * 60_000;
export const ACTIVITY_BUCKET_MS = 60_000;
/**
 * How long an overview is served again before it is read anew: every open
 * tab polls it.
 */
export const OVERVIEW_CACHE_MS = 5_000;

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
  /** The last overview read (or being read), shared by every request until it is `OVERVIEW_CACHE_MS` old. */
  private cached: { at: number; overview: Promise<Overview> } | null = null;

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

  /**
   * What the overview shows, read at most once per `OVERVIEW_CACHE_MS`: the
   * requests meanwhile share one read, in flight or done (a failed read is
   * not kept).
   */
  overview(): Promise<Overview> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < OVERVIEW_CACHE_MS)
      return this.cached.overview;
    const cached = { at: now, overview: this.readOverview() };
    this.cached = cached;
    cached.overview.catch(() => {
      if (this.cached === cached) this.cached = null;
    });
    return cached.overview;
  }

  private async readOverview(): Promise<Overview> {
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
      throw new DashboardRefusal(
        404,
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
