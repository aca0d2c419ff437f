import type { Logger } from '@nestjs/common';
import type { AttemptRecord, WorkerQueue } from '../backends/worker-queue.js';
import { toErrorRecord } from '../task/task-error-record.js';
import { TaskResultStatus } from '../task/task-result-status.js';
import { TaskMessages } from '../tasks.messages.js';
import { CompletionBatcher } from './completion-batcher.js';

/**
 * Writes attempt outcomes, many per statement. When the database refuses an
 * outcome's data (too large, invalid), the batch is split so the others are
 * not held back, and that outcome is stored as FAILED without its payload.
 * When the database is unreachable, writes are retried with backoff (the
 * tasks' leases keep being extended meanwhile) until the worker is aborted.
 */
export class OutcomeRecorder {
  private readonly batcher = new CompletionBatcher((records) =>
    this.writeBatch(records),
  );
  /** Outcomes replaced by a stand-in, until their caller has read it. */
  private readonly stored = new Map<AttemptRecord, AttemptRecord>();

  constructor(
    private readonly source: WorkerQueue,
    private readonly logger: Logger,
    private readonly isAborted: () => boolean,
  ) {}

  /** Writes `record`; resolves with what was stored (the record, or the FAILED stand-in of a refused one). */
  async record(record: AttemptRecord): Promise<AttemptRecord> {
    try {
      await this.batcher.add(record);
      return this.stored.get(record) ?? record;
    } finally {
      this.stored.delete(record);
    }
  }

  private async writeBatch(records: readonly AttemptRecord[]): Promise<void> {
    if (records.length > 1) {
      try {
        await this.source.complete(records);
        return;
      } catch {
        // Split: find out which outcome the database refuses, or retry each while it is unreachable.
      }
    }
    for (const record of records) await this.writeAlone(record);
  }

  /**
   * Writes one outcome. If the database refuses its data, a FAILED stand-in
   * with its last few errors is written instead, and if even that is refused,
   * one with the refusal alone.
   */
  private async writeAlone(record: AttemptRecord): Promise<void> {
    const first = await this.writeUntilReachable(record);
    if (first.ok) return;
    let refusal = first.refusal;
    for (const keptErrors of [3, 0]) {
      const standIn = unstorable(record, refusal, keptErrors);
      const outcome = await this.writeUntilReachable(standIn);
      if (outcome.ok) {
        this.stored.set(record, standIn);
        if (outcome.written > 0) {
          this.logger.error(
            TaskMessages.outcomeRefused(
              record.data.id,
              record.data.taskName,
              refusal,
            ),
          );
        }
        return;
      }
      refusal = outcome.refusal;
    }
    throw new Error(
      TaskMessages.outcomeRefusedEntirely(record.data.id, refusal),
    );
  }

  /** Writes one record, retrying lost connections with backoff; a refusal of the data is returned, not retried. */
  private async writeUntilReachable(
    record: AttemptRecord,
  ): Promise<{ ok: true; written: number } | { ok: false; refusal: unknown }> {
    for (let failures = 0; ; failures++) {
      try {
        return { ok: true, written: await this.source.complete([record]) };
      } catch (error) {
        if (this.source.isRefusal(error)) return { ok: false, refusal: error };
        if (this.isAborted()) throw error;
        const delay = Math.min(100 * 2 ** failures, 5000);
        this.logger.warn(TaskMessages.recordRetrying(error, delay));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}

const KEEP_CHARS = 2000;
const clip = (text: unknown) => {
  const value = String(text ?? '');
  return value.length > KEEP_CHARS
    ? `${value.slice(0, KEEP_CHARS)}… (clipped)`
    : value;
};

/**
 * A stand-in for an outcome the database refused (too large, invalid):
 * FAILED, without a return value, keeping only the last `keptErrors` errors
 * (clipped) and the refusal, so that it stays small enough to be written.
 */
function unstorable(
  record: AttemptRecord,
  refusal: unknown,
  keptErrors: number,
): AttemptRecord {
  const reason = toErrorRecord(refusal);
  const kept = keptErrors > 0 ? record.data.errors.slice(-keptErrors) : [];
  const errors = [
    ...kept,
    {
      ...reason,
      message: TaskMessages.outcomeNotStored(record.attempt, reason.message),
    },
  ].map((error) => ({
    errorClass: clip(error.errorClass),
    message: clip(error.message),
    traceback: clip(error.traceback),
  }));
  return {
    ...record,
    data: {
      ...record.data,
      status: TaskResultStatus.FAILED,
      finishedAt: new Date(),
      returnValue: null,
      errors,
    },
    retryAt: null,
  };
}
