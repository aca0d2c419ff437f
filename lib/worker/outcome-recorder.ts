import type { Logger } from '@nestjs/common';
import { CompletionBatcher } from './completion-batcher.js';
import { unstorable } from './attempt-outcomes.js';
import type { AttemptRecord, WorkerSource } from './worker-source.js';

/**
 * Writes attempt outcomes, many per statement. A batch the database refuses
 * is split, so one unwritable outcome (too large, say) cannot hold back the
 * others: it is stored as FAILED without its payload. While the database is
 * unreachable, writes are retried with backoff (the tasks' leases keep being
 * extended meanwhile) until the worker is aborted.
 */
export class OutcomeRecorder {
  private readonly batcher = new CompletionBatcher((records) =>
    this.writeBatch(records),
  );

  constructor(
    private readonly source: WorkerSource,
    private readonly logger: Logger,
    private readonly isAborted: () => boolean,
  ) {}

  record(record: AttemptRecord): Promise<void> {
    return this.batcher.add(record);
  }

  private async writeBatch(records: readonly AttemptRecord[]): Promise<void> {
    if (records.length > 1) {
      try {
        return await this.source.complete(records);
      } catch {
        // Fall through: find out which outcome the database refuses.
      }
    }
    for (const record of records) await this.writeAlone(record);
  }

  private async writeAlone(record: AttemptRecord): Promise<void> {
    for (let failures = 0; ; failures++) {
      let refusal: unknown;
      try {
        return await this.source.complete([record]);
      } catch (error) {
        refusal = error;
      }
      try {
        await this.source.complete([unstorable(record, refusal)]);
        this.logger.error(
          `The outcome of task ${record.data.id} (${record.data.taskName}) could not be stored and was recorded as FAILED: ${(refusal as Error)?.message ?? refusal}`,
        );
        return;
      } catch (error) {
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
