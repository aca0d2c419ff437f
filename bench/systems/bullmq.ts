import { randomBytes } from 'node:crypto';
import { eachChunk, eachIndex } from '../limits.js';
import { BULK_CHUNK, type BenchSystem, type WorkerSpec } from '../system.js';
import { DEFAULT_REDIS_URL, loopbackUrl } from '../urls.js';
import { noopPayload, pickupPayload } from '../workers/payload.js';
import { PostgresSchema } from './postgres-schema.js';
import {
  openQueue,
  type BenchQueue,
  type BullmqConfig,
} from './bullmq-store.js';

const JOB = 'noop';

/** BullMQ on Redis (a key prefix of its own) or on its PostgreSQL backend (a schema of its own). */
export class BullmqSystem implements BenchSystem {
  private readonly config: BullmqConfig;
  private readonly schema?: PostgresSchema;
  private queue?: BenchQueue;

  constructor(kind: 'redis' | 'postgres') {
    if (kind === 'postgres') {
      this.schema = new PostgresSchema('bmq');
      this.config = {
        queue: JOB,
        store: {
          kind,
          connectionString: this.schema.url,
          schema: this.schema.name,
        },
      };
    } else {
      this.config = {
        queue: JOB,
        store: {
          kind,
          url: loopbackUrl('BENCH_REDIS_URL', DEFAULT_REDIS_URL),
          prefix: `bench_${randomBytes(4).toString('hex')}`,
        },
      };
    }
  }

  async open(): Promise<void> {
    this.queue = openQueue(this.config, true);
    this.queue.on('error', (error) => console.error('bullmq:', error));
    await this.queue.waitUntilReady();
  }

  async reset(): Promise<void> {
    await this.queue!.obliterate({ force: true });
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    await eachIndex(n, deadline, (i) => this.queue!.add(JOB, noopPayload(i)));
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, chunk, deadline, (indexes) =>
      this.queue!.addBulk(
        indexes.map((i) => ({ name: JOB, data: noopPayload(i) })),
      ),
    );
  }

  async enqueueDeferred(
    n: number,
    runAt: Date,
    deadline: AbortSignal,
  ): Promise<void> {
    const delay = runAt.getTime() - Date.now();
    await eachChunk(n, BULK_CHUNK, deadline, (indexes) =>
      this.queue!.addBulk(
        indexes.map((i) => ({
          name: JOB,
          data: noopPayload(i),
          opts: { delay },
        })),
      ),
    );
  }

  async enqueuePickup(enqueuedAt: number): Promise<void> {
    await this.queue!.add(JOB, pickupPayload(enqueuedAt));
  }

  /** Every job the queue holds in a state other than completed. */
  async remaining(): Promise<number> {
    const counts = await this.queue!.getJobCounts();
    return Object.entries(counts)
      .filter(([state]) => state !== 'completed')
      .reduce((sum, [, count]) => sum + count, 0);
  }

  async drained(): Promise<boolean> {
    return (await this.remaining()) === 0;
  }

  worker(): WorkerSpec {
    return {
      entry: new URL('../workers/bullmq-worker.js', import.meta.url),
      config: this.config,
    };
  }

  async close(): Promise<void> {
    try {
      if (this.queue && this.config.store.kind === 'redis')
        await this.queue.obliterate({ force: true });
    } finally {
      await this.queue?.close();
      await this.schema?.drop();
    }
  }
}
