import { hostname } from 'node:os';
import type { EntityManager } from 'typeorm';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import {
  attemptCancelled,
  attemptInterrupted,
} from '../../execution/attempt-policy.js';
import type { TaskEventName } from '../../task/task-event.js';
import type { TaskResult } from '../../task/task-result.js';
import type { TaskResultData } from '../../task/task-result-data.js';
import { TaskResultStatus } from '../../task/task-result-status.js';
import { TaskMessages } from '../../tasks.messages.js';
import type {
  AttemptRecord,
  ClaimedTask,
  CompletionReport,
  HeartbeatReport,
  HeldTask,
  WorkerInfo,
  WorkerQueue,
} from '../worker-queue.js';
import type { DatabaseStore } from './database-store.js';
import type { TaskRow } from './sql-connection.js';
import type { ClaimPosition, TaskStore } from './task-store.js';
import { VARCHAR_LENGTHS } from './task-columns.js';
import { decodeRow, encodeCompletion } from './task-row.js';
import { WorkerSessionLock } from './worker-session-lock.js';
import type { NewWorker, WorkerStore } from './worker-store.js';

/** Whether a process with this pid runs on this host (one that is not ours to signal still runs). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Thrown inside a transactional attempt to roll it back. */
const ROLLBACK = Symbol('rollback');
/** Thrown inside a transactional attempt to roll it back: its result was cancelled meanwhile. */
const CANCELLED = Symbol('cancelled');

/** Rows rescued per heartbeat at most. */
const RESCUE_BATCH = 100;

/** How long a worker's claims may resume after its previous claim before one starts at the head again (see `resumingClaim`). */
const RESUME_FOR_MS = 250;

/** What the worker queue needs from its backend. */
export interface DatabaseQueueHost {
  /** The queues the backend accepts (empty: any). */
  readonly queues: readonly string[];
  toResult(data: TaskResultData): TaskResult<any>;
  emit(event: TaskEventName, result: TaskResult<any>): Promise<void>;
}

/** Where a claimed row stands in claim order. */
const positionOf = (row: TaskRow): ClaimPosition => ({
  priority: Number(row.priority),
  availableAt: Number(row.available_at),
  seq: String(row.seq),
});

/** Orders claimed rows as the claim query does: priority first, then due time, then enqueue order. */
function claimOrder(a: TaskRow, b: TaskRow): number {
  return (
    Number(b.priority) - Number(a.priority) ||
    Number(a.available_at) - Number(b.available_at) ||
    Number(a.seq) - Number(b.seq)
  );
}

/** The DatabaseBackend's queue for workers: claims, outcomes, heartbeats and leases, rescues. */
export class DatabaseWorkerQueue implements WorkerQueue {
  /** The workers of this process: their session lock and how they registered. */
  private readonly sessions = new Map<
    string,
    { lock: WorkerSessionLock; row: NewWorker }
  >();

  /** Where each worker's next claim resumes (see `resumingClaim`), and when one last started at the head. */
  private readonly resumes = new Map<
    string,
    { after: ClaimPosition | null; headAt: number }
  >();

  constructor(
    private readonly alias: string,
    private readonly store: DatabaseStore,
    private readonly host: DatabaseQueueHost,
  ) {}

  get leaseMs(): number {
    return this.store.settings.leaseMs;
  }

  async registerWorker(info: WorkerInfo): Promise<void> {
    if (info.workerId.length > VARCHAR_LENGTHS.short)
      throw new InvalidTaskBackendError(
        TaskMessages.workerIdTooLong(info.workerId, VARCHAR_LENGTHS.short),
      );
    const { sql, workers } = await this.store.open();
    const row = this.workerRow(info);
    try {
      await workers.registerWorker(row, this.leaseMs);
    } catch (error) {
      const live = await workers.workers(this.leaseMs).catch(() => []);
      if (!live.some((worker) => worker.id === info.workerId)) throw error;
      throw this.idInUse(info.workerId);
    }
    const lock = new WorkerSessionLock(sql, info.workerId, this.leaseMs);
    try {
      // Another session holding this worker's lock is a live worker of the same id.
      if (!(await lock.ensure())) throw this.idInUse(info.workerId);
    } catch (error) {
      await lock.release();
      await workers.removeWorkers(info.workerId, 10 * this.leaseMs);
      throw error;
    }
    this.sessions.set(info.workerId, { lock, row });
  }

  async unregisterWorker(workerId: string): Promise<void> {
    const session = this.sessions.get(workerId);
    this.sessions.delete(workerId);
    this.resumes.delete(workerId);
    await session?.lock.release();
    const { workers } = await this.store.open();
    await workers.removeWorkers(workerId, 10 * this.leaseMs);
  }

  private workerRow(info: WorkerInfo): NewWorker {
    return {
      id: info.workerId,
      hostname: hostname(),
      pid: process.pid,
      queues: JSON.stringify(info.queues ?? ['*']),
      concurrency: info.concurrency,
    };
  }

  private idInUse(workerId: string): InvalidTaskBackendError {
    return new InvalidTaskBackendError(
      TaskMessages.workerIdInUse(workerId, this.alias),
    );
  }

  async claim(
    workerId: string,
    queues: readonly string[] | null,
    limit: number,
  ): Promise<ClaimedTask[]> {
    const accepted =
      queues ?? (this.host.queues.length ? this.host.queues : null);
    const { sql, tasks } = await this.store.open();
    // A claim filtered by queue keeps rows of other queues it walked past locked, which the others' claims skip.
    const rows =
      sql.dialect.claimedEntriesLinger && accepted === null
        ? await this.resumingClaim(tasks, workerId, limit)
        : await tasks.claim(workerId, accepted, limit, this.leaseMs);
    return rows
      .sort(claimOrder)
      .map(decodeRow)
      .map(({ data, problem }) => ({
        result: this.host.toResult(data),
        problem,
      }));
  }

  /**
   * A claim where the index entries of claimed rows linger until a purge
   * (see `Dialect.claimedEntriesLinger`): one from the head of the READY
   * rows walks every row claimed since the purge last ran, a walk that
   * grows through a drain. While a worker's claims come back full, the
   * next starts after the last row of the previous one; it goes on from the
   * head when that finds too few, and starts there at least every
   * RESUME_FOR_MS. A task that comes before where the claims resume (a
   * higher priority, enqueued meanwhile; one handed back; one another
   * claim had locked and this one skipped) waits that long at most, as one
   * does behind another worker's prefetched tasks. Only for workers that
   * take every queue: a claim filtered by queue holds the rows of other
   * queues it walks past locked until it commits, so the claims of other
   * workers would skip them, and move past them, far more often.
   */
  private async resumingClaim(
    tasks: TaskStore,
    workerId: string,
    limit: number,
  ): Promise<TaskRow[]> {
    const now = performance.now();
    const last = this.resumes.get(workerId);
    let headAt = last?.headAt ?? now;
    let rows: TaskRow[] = [];
    if (last?.after && now - last.headAt < RESUME_FOR_MS)
      rows = await tasks.claim(workerId, null, limit, this.leaseMs, last.after);
    if (rows.length < limit) {
      try {
        rows.push(
          ...(await tasks.claim(
            workerId,
            null,
            limit - rows.length,
            this.leaseMs,
          )),
        );
        headAt = now;
      } catch (error) {
        // Rows already taken are this worker's: they are returned, the failure shows in the next claim.
        if (rows.length === 0) throw error;
      }
    }
    const end = rows.sort(claimOrder).at(-1);
    this.resumes.set(workerId, {
      after: end && rows.length === limit ? positionOf(end) : null,
      headAt,
    });
    return rows;
  }

  async complete(records: readonly AttemptRecord[]): Promise<CompletionReport> {
    const { tasks } = await this.store.open();
    return tasks.complete(records.map(encodeCompletion));
  }

  async release(workerId: string, held: readonly HeldTask[]): Promise<void> {
    const { tasks } = await this.store.open();
    await tasks.release(workerId, held);
  }

  isRefusal(error: unknown): boolean {
    return this.store.dialect?.isRefusal(error) ?? false;
  }

  /** Extends the leases this worker holds; reports those it no longer holds, and those whose cancel was requested. */
  async heartbeat(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<HeartbeatReport> {
    const { tasks, workers } = await this.store.open();
    const session = this.sessions.get(workerId);
    await session?.lock.ensure();
    const rows = await tasks.extendLeases(workerId, held, this.leaseMs);
    if (!(await workers.heartbeatWorker(workerId)) && session)
      await workers.registerWorker(session.row, this.leaseMs);
    return {
      lost: held
        .filter((task) => !rows.held.has(task.id))
        .map((task) => task.id),
      cancelled: [...rows.cancelled],
    };
  }

  watchCancels(onCancel: (id: string) => void): () => void {
    this.store.localCancelWatchers.add(onCancel);
    return () => this.store.localCancelWatchers.delete(onCancel);
  }

  async recoverOrphans(
    workerId: string,
    held: readonly HeldTask[],
  ): Promise<number> {
    const { tasks } = await this.store.open();
    const holding = new Set(held.map((task) => task.id));
    const orphans = (await tasks.orphaned(workerId, RESCUE_BATCH)).filter(
      (row) => !holding.has(String(row.id)),
    );
    return this.interrupt(orphans, workerId, false);
  }

  /**
   * Fails or re-queues (after the task's retry delay) the tasks of workers
   * that are gone. One guarded statement per row (rescues are rare): only the
   * worker that actually rescued a row reports it, however many rescue at once.
   */
  async rescueExpired(rescuerId: string): Promise<number> {
    const { sql, tasks, workers } = await this.store.open();
    let rows = await tasks.expired(rescuerId, RESCUE_BATCH);
    if (rows.length > 0 && !sql.dialect.sessionLock)
      rows = await this.withoutLiveProcesses(rows, workers);
    return this.interrupt(rows, rescuerId, true);
  }

  /** Records each row's attempt as interrupted, fenced by its worker and attempt; returns how many were written. */
  private async interrupt(
    rows: TaskRow[],
    by: string,
    rescue: boolean,
  ): Promise<number> {
    const { tasks } = await this.store.open();
    let written = 0;
    for (const row of rows) {
      const result = this.host.toResult(decodeRow(row).data);
      const workerId = String(row.worker_id);
      const verdict = attemptInterrupted(
        result,
        TaskMessages.leaseExpired(workerId, result.task.name, result.attempts),
      );
      const record = { ...verdict, workerId, attempt: result.attempts };
      const { written: ids, cancelled } = await tasks.complete(
        [encodeCompletion(record)],
        rescue ? by : undefined,
      );
      if (ids.length === 0) continue;
      written += 1;
      const stored = cancelled.length
        ? attemptCancelled(verdict).data
        : verdict.data;
      if (stored.status !== TaskResultStatus.READY)
        await this.host.emit('finished', this.host.toResult(stored));
    }
    return written;
  }

  /**
   * Where the database has no session locks (SQLite, one host), a worker
   * whose process still runs on this host is alive however late its
   * heartbeats: its rows are left alone.
   */
  private async withoutLiveProcesses(
    rows: TaskRow[],
    workers: WorkerStore,
  ): Promise<TaskRow[]> {
    const here = hostname();
    const alive = new Set(
      (await workers.workers())
        .filter(
          (worker) =>
            worker.hostname === here &&
            processExists(worker.pid) &&
            // This process's pid names an earlier process only (a restarted container): not alive.
            (worker.pid !== process.pid || this.sessions.has(worker.id)),
        )
        .map((worker) => worker.id),
    );
    return rows.filter((row) => !alive.has(String(row.worker_id)));
  }

  /** A cancel requested before the record is written rolls the attempt back, its effects with it. */
  async inTransaction(
    held: HeldTask,
    attempt: (manager: EntityManager) => Promise<AttemptRecord | null>,
  ): Promise<boolean | 'cancelled'> {
    const { sql, tasks } = await this.store.open();
    return this.store.withAttemptConnection(async (dataSource) => {
      const runner = dataSource.createQueryRunner();
      try {
        await runner.connect();
        return await sql.inTransaction(runner, async () => {
          await sql.dialect.beginAttempt(runner, sql.tables, held.id);
          const record = await attempt(runner.manager);
          if (!record) throw ROLLBACK;
          const { written, cancelled } = await tasks.complete(
            [encodeCompletion(record)],
            undefined,
            runner,
          );
          if (cancelled.length > 0) throw CANCELLED;
          if (written.length === 0) throw ROLLBACK;
          return true;
        });
      } catch (error) {
        if (error === ROLLBACK) return false;
        if (error === CANCELLED) return 'cancelled';
        throw error;
      } finally {
        await runner.release();
      }
    });
  }

  /**
   * In one transaction: advances the task's last tick to `tick` if it is
   * earlier and, only then, enqueues it there (the row of a task seen for
   * the first time is created instead, recording `tick` unenqueued). On the
   * connection transactional attempts use, whose transactions enqueues join.
   */
  async claimTick(
    taskName: string,
    tick: Date,
    enqueue: (transaction: EntityManager) => Promise<void>,
  ): Promise<boolean> {
    const { sql, schedules } = await this.store.open();
    return this.store.withAttemptConnection((dataSource) =>
      sql.retryTransient(async () => {
        const runner = dataSource.createQueryRunner();
        try {
          await runner.connect();
          return await sql.inTransaction(runner, async () => {
            if (await schedules.advance(runner, taskName, tick.getTime())) {
              await enqueue(runner.manager);
              return true;
            }
            await schedules.start(runner, taskName, tick.getTime());
            return false;
          });
        } finally {
          await runner.release();
        }
      }),
    );
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

  async promoteDue(
    limit: number,
  ): Promise<{ promoted: number; nextDueAt: number | null }> {
    const { tasks } = await this.store.open();
    return tasks.promoteDue(limit);
  }

  async listen(onWake: (dueAt?: number) => void): Promise<() => Promise<void>> {
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
