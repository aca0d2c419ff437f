import {
  Logger,
  makeWorkerUtils,
  run,
  type Runner,
  type WorkerUtils,
} from 'graphile-worker';
import {
  checkDeadline,
  chunks,
  waitUntilDone,
  type BenchSystem,
} from '../harness.js';
import { PostgresSchema } from './postgres-schema.js';

const silent = new Logger(() => () => {});

/** graphile-worker on PostgreSQL, in a schema of its own. */
export class GraphileWorkerSystem implements BenchSystem {
  readonly name = 'graphile-worker';
  private readonly schema = new PostgresSchema('gw');
  private utils?: WorkerUtils;
  private runner?: Runner;

  async open(): Promise<void> {
    this.utils = await makeWorkerUtils({
      connectionString: this.schema.url,
      schema: this.schema.name,
      logger: silent,
    });
    await this.utils.migrate();
  }

  async reset(): Promise<void> {
    await this.schema.pool.query(
      `DELETE FROM ${this.schema.name}._private_jobs`,
    );
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    for (let i = 0; i < n; i++) {
      checkDeadline(deadline);
      await this.utils!.addJob('noop', { i });
    }
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    for (const indexes of chunks(n, chunk)) {
      checkDeadline(deadline);
      await this.utils!.addJobs(
        indexes.map((i) => ({ identifier: 'noop', payload: { i } })),
      );
    }
  }

  async drain(_n: number, deadline: AbortSignal): Promise<void> {
    this.runner = await run({
      connectionString: this.schema.url,
      schema: this.schema.name,
      concurrency: 10,
      pollInterval: 50,
      noHandleSignals: true,
      logger: silent,
      taskList: { noop: async () => {} },
    });
    // Completed jobs are deleted: the store is done when no job is left.
    await waitUntilDone(
      () =>
        this.schema.count(
          `SELECT COUNT(*) AS n FROM ${this.schema.name}._private_jobs`,
        ),
      deadline,
    );
  }

  async stopWorker(): Promise<void> {
    const runner = this.runner;
    this.runner = undefined;
    await runner?.stop();
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.utils?.release();
    await this.schema.drop();
  }
}
