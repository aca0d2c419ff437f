import PgBoss from 'pg-boss';
import { eachChunk, eachIndex } from '../limits.js';
import { BULK_CHUNK, type BenchSystem, type WorkerSpec } from '../system.js';
import { noopPayload, pickupPayload } from '../workers/payload.js';
import { PostgresSchema } from './postgres-schema.js';

/** What the bench and its worker processes share to open the same store. */
export interface PgBossConfig {
  connectionString: string;
  schema: string;
  queue: string;
}

const QUEUE = 'noop';

/** pg-boss on PostgreSQL, in a schema of its own. */
export class PgBossSystem implements BenchSystem {
  private readonly schema = new PostgresSchema('boss');
  private boss?: PgBoss;

  async open(): Promise<void> {
    this.boss = new PgBoss({
      connectionString: this.schema.url,
      schema: this.schema.name,
      supervise: false,
      schedule: false,
    });
    this.boss.on('error', (error) => console.error('pg-boss:', error));
    await this.boss.start();
    await this.boss.createQueue(QUEUE);
  }

  async reset(): Promise<void> {
    await this.schema.pool.query(`DELETE FROM ${this.schema.name}.job`);
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    await eachIndex(n, deadline, (i) => this.boss!.send(QUEUE, noopPayload(i)));
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, chunk, deadline, (indexes) =>
      this.boss!.insert(
        indexes.map((i) => ({ name: QUEUE, data: noopPayload(i) })),
      ),
    );
  }

  async enqueueDeferred(
    n: number,
    runAt: Date,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, BULK_CHUNK, deadline, (indexes) =>
      this.boss!.insert(
        indexes.map((i) => ({
          name: QUEUE,
          data: noopPayload(i),
          startAfter: runAt,
        })),
      ),
    );
  }

  async enqueuePickup(enqueuedAt: number): Promise<void> {
    await this.boss!.send(QUEUE, pickupPayload(enqueuedAt));
  }

  remaining(): Promise<number> {
    return this.schema.count(
      `SELECT COUNT(*) AS n FROM ${this.schema.name}.job WHERE name = $1 AND state <> 'completed'`,
      [QUEUE],
    );
  }

  drained(): Promise<boolean> {
    return this.schema.none(
      `SELECT 1 FROM ${this.schema.name}.job WHERE name = $1 AND state <> 'completed'`,
      [QUEUE],
    );
  }

  worker(): WorkerSpec {
    const config: PgBossConfig = {
      connectionString: this.schema.url,
      schema: this.schema.name,
      queue: QUEUE,
    };
    return {
      entry: new URL('../workers/pg-boss-worker.js', import.meta.url),
      config,
    };
  }

  async close(): Promise<void> {
    await this.boss?.stop({ graceful: false, wait: true });
    await this.schema.drop();
  }
}
