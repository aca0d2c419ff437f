import type { TaskResultStatus } from '../task/task-result-status.js';

/** What `tasks:prune` asks of a backend. */
export interface PruneRequest {
  /** Delete results finished before this time. */
  finishedBefore: Date;
  statuses: readonly TaskResultStatus[];
  /** Count only, delete nothing. */
  dryRun: boolean;
  /** Rows deleted per statement. */
  batchSize: number;
}

/** What `tasks:status` shows. */
export interface BackendStatus {
  counts: { queue: string; status: string; count: number }[];
  workers: {
    id: string;
    hostname: string;
    pid: number;
    queues: string[];
    concurrency: number;
    startedAt: Date;
    heartbeatAt: Date;
  }[];
}

/** A backend that keeps results and can report on them and prune them. */
export interface AdministrableBackend {
  prune(request: PruneRequest): Promise<number>;
  status(): Promise<BackendStatus>;
}

export function isAdministrable(value: unknown): value is AdministrableBackend {
  const candidate = value as Partial<AdministrableBackend> | null;
  return (
    typeof candidate?.prune === 'function' &&
    typeof candidate?.status === 'function'
  );
}
