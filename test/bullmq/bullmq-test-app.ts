import type { Provider } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { TaskQueue } from '../../lib/index.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { TEST_REDIS } from '../support/redis.js';
import { bootTasksApp } from '../support/tasks-app.js';

export interface BullMQAppOptions {
  prefix: string;
  providers?: Provider[];
  /** The lease: BullMQ's lock duration. */
  leaseMs?: number;
  /** How often claiming processes check for stalled jobs. */
  stalledIntervalMs?: number;
  connection?: Record<string, unknown>;
}

/** The `options` of a BullMQBackend on the test Redis. */
export function bullmqOptions(options: BullMQAppOptions) {
  return {
    connection: options.connection ?? { ...TEST_REDIS },
    prefix: options.prefix,
    workerOptions: {
      lockDuration: options.leaseMs ?? 1000,
      stalledInterval: options.stalledIntervalMs ?? 200,
    },
  };
}

/** Boots a testing app whose `default` backend is a BullMQBackend accepting any queue. */
export function bootBullMQApp(
  options: BullMQAppOptions,
): Promise<TestingModule> {
  return bootTasksApp({
    backends: {
      default: {
        backend: BullMQBackend,
        queues: [],
        options: bullmqOptions(options),
      },
    },
    providers: options.providers,
  });
}

/** The store behind the app's default BullMQBackend, for tests that reach its connections and scripts. */
export function bullmqStoreOf(queue: TaskQueue): BullMQStore {
  return (queue.backend() as unknown as { store: BullMQStore }).store;
}
