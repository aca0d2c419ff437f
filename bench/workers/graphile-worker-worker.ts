import { run, type Runner } from 'graphile-worker';
import {
  GRAPHILE_TASK,
  silentLogger,
  type GraphileWorkerConfig,
} from '../systems/graphile-worker.js';
import { enqueuedAtOf } from './payload.js';
import { POLL_INTERVAL_MS, WORKER_CONCURRENCY } from './protocol.js';
import { serveWorker } from './serve-worker.js';

/**
 * graphile-worker's batching, tuned for throughput: a local queue that
 * fetches (and locks) up to 500 jobs per query, and completions and
 * failures written in batches as soon as the event loop is free (delay 0).
 */
const BATCHED_PRESET: GraphileConfig.Preset = {
  worker: {
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
  },
};

/** A worker process of graphile-worker: `run()` until SIGTERM. */
await serveWorker<GraphileWorkerConfig>(async ({ config, observePickup }) => {
  let runner: Runner | undefined;
  return {
    async start() {
      runner = await run({
        connectionString: config.connectionString,
        schema: config.schema,
        concurrency: WORKER_CONCURRENCY,
        pollInterval: POLL_INTERVAL_MS,
        noHandleSignals: true,
        logger: silentLogger,
        taskList: {
          [GRAPHILE_TASK]: async (payload) => {
            const enqueuedAt = enqueuedAtOf(payload);
            if (enqueuedAt !== undefined) observePickup(enqueuedAt);
          },
        },
        ...(config.batched ? { preset: BATCHED_PRESET } : {}),
      });
    },
    async stop() {
      await runner?.stop();
    },
  };
});
