import { createPostgresBackend, Queue, Worker, type Job } from 'bullmq';
import type { BenchPayload } from '../workers/payload.js';

/** What the bench uses of a BullMQ queue; the same on either store. */
export interface BenchQueue {
  waitUntilReady(): Promise<unknown>;
  add(name: string, data: BenchPayload): Promise<unknown>;
  addBulk(
    jobs: { name: string; data: BenchPayload; opts?: { delay?: number } }[],
  ): Promise<unknown>;
  getJobCounts(): Promise<Record<string, number>>;
  obliterate(options: { force: boolean }): Promise<void>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** What a bench worker process uses of a BullMQ worker. */
export interface BenchWorker {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Where a BullMQ queue lives, shared by the bench and its worker processes. */
export type BullmqStore =
  | {
      kind: 'redis';
      url: string;
      /** Namespaces every key of this run's queue. */
      prefix: string;
    }
  | {
      kind: 'postgres';
      connectionString: string;
      /** The schema the PostgreSQL backend keeps all its tables in. */
      schema: string;
    };

export interface BullmqConfig {
  store: BullmqStore;
  queue: string;
}

/** ioredis options for a `redis://` URL. */
export function redisConnection(url: string) {
  const parsed = new URL(url);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: Number(parsed.port || 6379),
    username: parsed.username || undefined,
    password: parsed.password || undefined,
    db: Number(parsed.pathname.slice(1) || 0),
  };
}

/** The queue of `config`; on PostgreSQL `migrate` creates or upgrades the schema. */
export function openQueue(config: BullmqConfig, migrate: boolean): BenchQueue {
  const { store } = config;
  if (store.kind === 'redis')
    return new Queue(config.queue, {
      connection: redisConnection(store.url),
      prefix: store.prefix,
    });
  return new Queue(
    config.queue,
    {
      connection: {
        connectionString: store.connectionString,
        schema: store.schema,
        migrate,
      },
    },
    createPostgresBackend,
  );
}

/** A worker of `config`'s queue, started at once. */
export function openWorker(
  config: BullmqConfig,
  processor: (job: Job) => Promise<void>,
  concurrency: number,
): BenchWorker {
  const { store } = config;
  if (store.kind === 'redis')
    return new Worker(config.queue, processor, {
      connection: redisConnection(store.url),
      prefix: store.prefix,
      concurrency,
    });
  return new Worker(
    config.queue,
    processor,
    {
      connection: {
        connectionString: store.connectionString,
        schema: store.schema,
      },
      concurrency,
    },
    createPostgresBackend,
  );
}
