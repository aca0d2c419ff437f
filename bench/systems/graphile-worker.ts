import { Logger, makeWorkerUtils, type WorkerUtils } from 'graphile-worker';
import { eachChunk, eachIndex } from '../limits.js';
import { BULK_CHUNK, type BenchSystem, type WorkerSpec } from '../system.js';
import { noopPayload, pickupPayload } from '../workers/payload.js';
import { PostgresSchema } from './postgres-schema.js';

export const silentLogger = new Logger(() => () => {});

/** What the bench and its worker processes share to open the same store. */
export interface GraphileWorkerConfig {
  connectionString: string;
  schema: string;
  /** Local queue and batched completion on (the `graphile-worker:batched` system). */
  batched: boolean;
}

/** The task every job names; its worker handles no-op and pickup payloads alike. */
export const GRAPHILE_TASK = 'noop';

/** graphile-worker on PostgreSQL, in a schema of its own. */
export class GraphileWorkerSystem implements BenchSystem {
  private readonly schema = new PostgresSchema('gw');
  private utils?: WorkerUtils;

  constructor(private readonly batched: boolean) {}

  async open(): Promise<void> {
    this.utils = await makeWorkerUtils({
      connectionString: this.schema.url,
      schema: this.schema.name,
      logger: silentLogger,
    });
    await this.utils.migrate();
  }

  async reset(): Promise<void> {
    await this.schema.pool.query(
      `DELETE FROM ${this.schema.name}._private_jobs`,
    );
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    await eachIndex(n, deadline, (i) =>
      this.utils!.addJob(GRAPHILE_TASK, noopPayload(i)),
    );
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, chunk, deadline, (indexes) =>
      this.utils!.addJobs(
        indexes.map((i) => ({
          identifier: GRAPHILE_TASK,
          payload: noopPayload(i),
        })),
      ),
    );
  }

  async enqueueDeferred(
    n: number,
    runAt: Date,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, BULK_CHUNK, deadline, (indexes) =>
      this.utils!.addJobs(
        indexes.map((i) => ({
          identifier: GRAPHILE_TASK,
          payload: noopPayload(i),
          runAt,
        })),
      ),
    );
  }

  async enqueuePickup(enqueuedAt: number): Promise<void> {
    await this.utils!.addJob(GRAPHILE_TASK, pickupPayload(enqueuedAt));
  }

  /** Completed jobs are deleted: every job left is not done yet. */
  remaining(): Promise<number> {
    return this.schema.count(
      `SELECT COUNT(*) AS n FROM ${this.schema.name}._private_jobs`,
    );
  }

  drained(): Promise<boolean> {
    return this.schema.none(`SELECT 1 FROM ${this.schema.name}._private_jobs`);
  }

  worker(): WorkerSpec {
    const config: GraphileWorkerConfig = {
      connectionString: this.schema.url,
      schema: this.schema.name,
      batched: this.batched,
    };
    return {
      entry: new URL('../workers/graphile-worker-worker.js', import.meta.url),
      config,
    };
  }

  async close(): Promise<void> {
    await this.utils?.release();
    await this.schema.drop();
  }
}
