import {
  openWorker,
  type BenchWorker,
  type BullmqConfig,
} from '../systems/bullmq-store.js';
import { enqueuedAtOf } from './payload.js';
import { WORKER_CONCURRENCY } from './protocol.js';
import { serveWorker } from './serve-worker.js';

/** A worker process of BullMQ: one `Worker` at concurrency 10, until SIGTERM. */
await serveWorker<BullmqConfig>(async ({ config, observePickup, fail }) => {
  let worker: BenchWorker | undefined;
  return {
    async start() {
      worker = openWorker(
        config,
        async (job) => {
          const enqueuedAt = enqueuedAtOf(job.data);
          if (enqueuedAt !== undefined) observePickup(enqueuedAt);
        },
        WORKER_CONCURRENCY,
      );
      worker.on('error', fail);
      await worker.waitUntilReady();
    },
    async stop() {
      await worker?.close();
    },
  };
});
