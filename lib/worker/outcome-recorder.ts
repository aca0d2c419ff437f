import type { Logger } from '@nestjs/common';
import { CompletionBatcher } from './completion-batcher.js';
import { unstorable } from './attempt-outcomes.js';
import type { AttemptRecord, WorkerSource } from './worker-source.js';

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
    private readonly source: WorkerSource,
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
            `The outcome of task ${record.data.id} (${record.data.taskName}) was refused by the database and recorded as FAILED: ${(refusal as Error)?.message ?? refusal}`,
          );
        }
        return;
      }
      refusal = outcome.refusal;
    }
    throw new Error(
      `The database refused every form of the outcome of task ${record.data.id}: ${(refusal as Error)?.message ?? refusal}`,
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
        this.logger.warn(
          `Recording an outcome failed (${(error as Error)?.message ?? error}); retrying in ${delay} ms`,
        );
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
