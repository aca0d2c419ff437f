import { hostname } from 'node:os';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { attemptInterrupted } from '../../execution/attempt-policy.js';
import type { TaskEventName } from '../../task/task-event.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerInfo,
  WorkerQueue,
} from '../worker-queue.js';
import type { DatabaseStore } from './database-store.js';
import type { TaskRow } from './sql-connection.js';
import { decodeRow, encodeCompletion } from './task-row.js';

/** Rows rescued per heartbeat at most. */
const RESCUE_BATCH = 100;

/** What the worker queue needs from its backend. */
export interface DatabaseQueueHost {
  /** The queues the backend accepts (empty: any). */
  readonly queues: readonly string[];
  toResult(data: TaskResultData): TaskResult<any>;
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
}

/** Orders claimed rows as the claim query does: priority first, then due time, then enqueue order. */
function claimOrder(a: TaskRow, b: TaskRow): number {
  const key = (row: TaskRow) => [
    -Number(row.priority),
    Number(row.available_at),
    Number(row.seq),
  ];
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The DatabaseBackend's queue for workers: claims, outcomes, heartbeats and leases, rescues. */
export class DatabaseWorkerQueue implements WorkerQueue {
  constructor(
    private readonly alias: string,
    private readonly store: DatabaseStore,
    private readonly host: DatabaseQueueHost,
  ) {}

  get leaseMs(): number {
    return this.store.settings.leaseMs;
  }

  async registerWorker(info: WorkerInfo): Promise<void> {
    const now = Date.now();
    const row = {
      id: info.workerId,
      hostname: hostname(),
      pid: process.pid,
      queues: JSON.stringify(info.queues ?? ['*']),
      concurrency: info.concurrency,
      startedAt: now,
      heartbeatAt: now,
    };
    const { workers } = await this.store.open();
    try {
      await workers.registerWorker(row, now - this.leaseMs);
    } catch (error) {
      const live = await workers
        .liveWorkers(now - this.leaseMs)
        .catch(() => []);
      if (!live.some((worker) => worker.id === info.workerId)) throw error;
      throw new InvalidTaskBackendError(
        TaskMessages.workerIdInUse(info.workerId, this.alias),
      );
    }
  }

  async unregisterWorker(workerId: string): Promise<void> {
    const { workers } = await this.store.open();
    await workers.removeWorkers(workerId, Date.now() - 10 * this.leaseMs);
  }

  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]> {
    const accepted =
      queues ?? (this.host.queues.length ? this.host.queues : null);
    const { tasks } = await this.store.open();
    const rows = await tasks.claim(workerId, accepted, limit, this.leaseMs);
    return rows
      .sort(claimOrder)
      .map(decodeRow)
      .map(({ data, problem }) => ({
        result: this.host.toResult(data),
        problem,
      }));
  }

  async complete(records: readonly AttemptRecord[]): Promise<number> {
    const { tasks } = await this.store.open();
    return tasks.complete(records.map(encodeCompletion));
  }

  isRefusal(error: unknown): boolean {
    return this.store.dialect?.isRefusal(error) ?? false;
  }

  async heartbeat(workerId: string, heldIds: readonly string[]): Promise<void> {
    const { tasks, workers } = await this.store.open();
    const now = Date.now();
    await tasks.extendLeases(workerId, heldIds, now + this.leaseMs);
    await workers.heartbeatWorker(workerId, now);
  }

  /**
   * Fails or re-queues (after the task's retry delay) the tasks whose lease
   * ran out. One guarded statement per row (rescues are rare): only the
   * worker that actually rescued a row reports it, however many rescue at once.
   */
  async rescueExpired(): Promise<number> {
    const { tasks } = await this.store.open();
    const now = Date.now();
    const rows = await tasks.expired(now, RESCUE_BATCH);
    let written = 0;
    for (const row of rows) {
      const result = this.host.toResult(decodeRow(row).data);
      const workerId = String(row.worker_id);
      const verdict = attemptInterrupted(
        result,
        TaskMessages.leaseExpired(workerId, result.task.name, result.attempts),
        new Date(now),
      );
      const record = { ...verdict, workerId, attempt: result.attempts };
      if ((await tasks.complete([encodeCompletion(record)], now)) === 0)
        continue;
      written += 1;
      if (verdict.data.status === TaskResultStatus.FAILED)
        await this.host.emit('finished', this.host.toResult(verdict.data));
    }
    return written;
  }

  async saveProgress(
    id: string,
    workerId: string,
    progress: number,
    metadata: Record<string, unknown>,
  ): Promise<void> {
    const { tasks } = await this.store.open();
    await tasks.saveProgress(id, workerId, progress, JSON.stringify(metadata));
  }

  async listen(onWake: () => void): Promise<() => Promise<void>> {
    const { sql } = await this.store.open();
    this.store.localWakers.add(onWake);
    const unlisten = await sql.dialect.listen(
      sql.dataSource,
      sql.tables.tasks,
      onWake,
    );
    return async () => {
      this.store.localWakers.delete(onWake);
      await unlisten();
    };
  }
}
