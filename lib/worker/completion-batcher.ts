import type { AttemptRecord } from '../backends/worker-queue.js';

interface Pending {
  record: AttemptRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces attempt outcomes: while one write is in flight, the outcomes that
 * finish meanwhile wait and go out together in the next statement.
 */
export class CompletionBatcher {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly write: (
      records: readonly AttemptRecord[],
    ) => Promise<void>,
  ) {}

  add(record: AttemptRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.write(batch.map((pending) => pending.record));
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
