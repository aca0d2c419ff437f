interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces writes: a write waits for the current turn of the event loop to
 * end, so that the items of every attempt that ended in it go together, and
 * while one write is in flight the items that arrive meanwhile wait and go
 * out together in the next one. `write` answers one result per item, in
 * order.
 */
export class CompletionBatcher<T, R> {
  private queue: Pending<T, R>[] = [];
  private flushing = false;

  constructor(private readonly write: (items: readonly T[]) => Promise<R[]>) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        await new Promise((resolve) => setImmediate(resolve));
        const batch = this.queue;
        this.queue = [];
        try {
          const results = await this.write(
            batch.map((pending) => pending.item),
          );
          batch.forEach((pending, i) => pending.resolve(results[i]));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
