import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { OnTaskEvent, type TaskEvent } from '../../lib/index.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import { waitFor } from './wait.js';

/** Records the `dispatchFailed` events: enqueues that could not be stored after their commit. */
@Injectable()
export class DispatchFailures {
  readonly events: TaskEvent[] = [];

  @OnTaskEvent('dispatchFailed')
  record(event: TaskEvent): void {
    this.events.push(event);
  }
}

/** Thrown to roll a transaction back. */
export class Rollback extends Error {}

/**
 * Enqueues (with `enqueue(n)`) in a transaction that rolls back, then in
 * one that commits around a savepoint that rolls back; returns what the
 * enqueues in the rolled-back transaction (`dropped`), in the committed one
 * (`kept`) and in its rolled-back savepoint (`inner`) returned.
 */
export async function enqueueAroundRollbacks<R>(
  inTransaction: <T>(work: () => Promise<T>) => Promise<T>,
  enqueue: (n: number) => Promise<R>,
): Promise<{ dropped: R; kept: R; inner: R }> {
  let dropped!: R;
  await expect(
    inTransaction(async () => {
      dropped = await enqueue(1);
      throw new Rollback();
    }),
  ).rejects.toThrow(Rollback);
  let kept!: R;
  let inner!: R;
  await inTransaction(async () => {
    kept = await enqueue(2);
    await inTransaction(async () => {
      inner = await enqueue(3);
      throw new Rollback();
    }).catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  });
  return { dropped, kept, inner };
}

/** Runs a worker of the app's default backend (polling every 100 ms) until `probe` holds, then stops it. */
export async function workUntil(
  moduleRef: TestingModule,
  what: string,
  probe: () => Promise<boolean>,
): Promise<void> {
  const worker = moduleRef
    .get(WorkerFactory)
    .create({ intervalMs: 100, concurrency: 2 });
  const running = worker.run();
  try {
    await waitFor(what, probe, 30_000);
  } finally {
    worker.stop();
    await running;
  }
}
