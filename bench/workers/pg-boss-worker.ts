import PgBoss from 'pg-boss';
import type { PgBossConfig } from '../systems/pg-boss.js';
import { enqueuedAtOf } from './payload.js';
import { WORKER_CONCURRENCY } from './protocol.js';
import { serveWorker } from './serve-worker.js';

/**
 * pg-boss 10's smallest polling interval. Its worker waits that long after
 * every fetch unless a send() in its own process wakes it.
 */
const POLLING_INTERVAL_SECONDS = 0.5;

/** A worker process of pg-boss: one `work()` fetching ten jobs at a time, until SIGTERM. */
await serveWorker<PgBossConfig>(async ({ config, observePickup, fail }) => {
  const boss = new PgBoss({
    connectionString: config.connectionString,
    schema: config.schema,
    supervise: false,
    schedule: false,
    migrate: false,
  });
  boss.on('error', fail);
  await boss.start();
  return {
    async start() {
      await boss.work(
        config.queue,
        {
          batchSize: WORKER_CONCURRENCY,
          pollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
        },
        async (jobs) => {
          for (const job of jobs) {
            const enqueuedAt = enqueuedAtOf(job.data);
            if (enqueuedAt !== undefined) observePickup(enqueuedAt);
          }
        },
      );
    },
    async stop() {
      await boss.stop({ graceful: false, wait: true });
    },
  };
});
