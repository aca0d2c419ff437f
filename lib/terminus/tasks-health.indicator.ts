import { Injectable } from '@nestjs/common';
import {
  HealthIndicatorService,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type { BackendStatus } from '../backends/backend-admin.js';
import { TaskBackends } from '../dispatch/task-backends.js';
import { DEFAULT_BACKEND_ALIAS } from '../tasks.constants.js';
import { TaskMessages } from '../tasks.messages.js';

/** What `TasksHealthIndicator.isHealthy` checks beyond the store answering. */
export interface TasksHealthOptions {
  /** The backend alias to check (`'default'` unless given). */
  backend?: string;
  /** Down unless at least this many workers heartbeat on the backend. */
  minWorkers?: number;
  /** Down when a due READY task has waited longer than this for a worker. */
  maxReadyAgeMs?: number;
}

/** What a check found, reported up or down under its key (a type alias: terminus takes a record). */
type TasksHealthDetails = {
  backend: string;
  /** Tasks per status, over every queue. */
  counts?: Record<string, number>;
  /** How long the longest-waiting due READY task has waited, or null when none is due. */
  oldestReadyAgeMs?: number | null;
  /** Workers whose heartbeat is live. */
  workers?: number;
};

/**
 * A `@nestjs/terminus` health indicator for the tasks backends: up when a
 * backend's store answers and, optionally, enough workers heartbeat and no
 * due READY task has waited too long. Provide it in the module that imports
 * `TerminusModule`.
 */
@Injectable()
export class TasksHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly backends: TaskBackends,
  ) {}

  async isHealthy(
    key: string,
    options: TasksHealthOptions = {},
  ): Promise<HealthIndicatorResult> {
    const {
      backend: alias = DEFAULT_BACKEND_ALIAS,
      minWorkers,
      maxReadyAgeMs,
    } = options;
    const indicator = this.health.check(key);
    const details: TasksHealthDetails = { backend: alias };
    const down = (message: string) => indicator.down({ message, ...details });
    const aliases = this.backends.aliases();
    if (!aliases.includes(alias))
      return down(TaskMessages.unknownBackend(alias, aliases));
    const backend = this.backends.get(alias);
    const backendClass = backend.constructor.name;
    const admin = backend.admin();
    if (!admin) {
      // Tasks run in this process (ImmediateBackend) or are only recorded
      // (DummyBackend): nothing can be unreachable, nothing waits for workers.
      return minWorkers === undefined && maxReadyAgeMs === undefined
        ? indicator.up(details)
        : down(TaskMessages.healthNoAdmin(alias, backendClass));
    }
    let status: BackendStatus;
    let oldest: Date | null;
    try {
      [status, oldest] = await Promise.all([
        admin.status(),
        admin.oldestDueReady(),
      ]);
    } catch (error) {
      return down(TaskMessages.healthUnreachable(alias, backendClass, error));
    }
    const ageMs = oldest && Math.max(0, Date.now() - oldest.getTime());
    Object.assign(details, {
      counts: countsByStatus(status),
      oldestReadyAgeMs: ageMs,
      workers: status.workers.length,
    });
    if (minWorkers !== undefined && status.workers.length < minWorkers) {
      return down(
        TaskMessages.healthTooFewWorkers(
          alias,
          status.workers.length,
          minWorkers,
        ),
      );
    }
    if (maxReadyAgeMs !== undefined && ageMs !== null && ageMs > maxReadyAgeMs)
      return down(TaskMessages.healthReadyTooOld(alias, ageMs, maxReadyAgeMs));
    return indicator.up(details);
  }
}

function countsByStatus(status: BackendStatus): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { status: name, count } of status.counts)
    counts[name] = (counts[name] ?? 0) + count;
  return counts;
}
