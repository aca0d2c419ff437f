import type { TaskWorker } from '../../lib/worker/task-worker.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import {
  createBenchApp,
  type NestjsTasksConfig,
} from '../systems/nestjs-tasks-app.js';
import { POLL_INTERVAL_MS, WORKER_CONCURRENCY } from './protocol.js';
import { serveWorker } from './serve-worker.js';

/** A worker process of nestjs-tasks: `TaskWorker.run()` until SIGTERM. */
await serveWorker<NestjsTasksConfig>(
  async ({ config, observePickup, fail }) => {
    const app = await createBenchApp(config, {
      runMigrations: false,
      observePickup,
    });
    let running: { worker: TaskWorker; done: Promise<unknown> } | undefined;
    return {
      async start() {
        const worker = app.get(WorkerFactory).create({
          batch: false,
          concurrency: WORKER_CONCURRENCY,
          intervalMs: POLL_INTERVAL_MS,
          prefetch: process.env.BENCH_PREFETCH
            ? Number(process.env.BENCH_PREFETCH)
            : undefined,
        });
        running = { worker, done: worker.run() };
        running.done.catch(fail);
      },
      async stop() {
        if (running) {
          running.worker.stop();
          await running.done;
        }
        await app.close();
      },
    };
  },
);
