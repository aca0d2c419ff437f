import PgBoss from 'pg-boss';
import {
  checkDeadline,
  chunks,
  waitUntilDone,
  type BenchSystem,
} from '../harness.js';
import { PostgresSchema } from './postgres-schema.js';

const QUEUE = 'noop';

/** pg-boss on PostgreSQL, in a schema of its own. */
export class PgBossSystem implements BenchSystem {
  readonly name = 'pg-boss';
  private readonly schema = new PostgresSchema('boss');
  private boss?: PgBoss;
  private working = false;

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
    for (let i = 0; i < n; i++) {
      checkDeadline(deadline);
      await this.boss!.send(QUEUE, { i });
    }
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    for (const indexes of chunks(n, chunk)) {
      checkDeadline(deadline);
      await this.boss!.insert(
        indexes.map((i) => ({ name: QUEUE, data: { i } })),
      );
    }
  }

  async drain(_n: number, deadline: AbortSignal): Promise<void> {
    // One worker with ten jobs at a time. pg-boss 10 waits its polling
    // interval (at least 0.5 s) after each fetch unless a send() of this
    // process wakes it, so this drains at most 20 queued jobs a second.
    this.working = true;
    await this.boss!.work(
      QUEUE,
      { batchSize: 10, pollingIntervalSeconds: 0.5 },
      async () => {},
    );
    await waitUntilDone(
      () =>
        this.schema.count(
          `SELECT COUNT(*) AS n FROM ${this.schema.name}.job WHERE name = $1 AND state <> 'completed'`,
          [QUEUE],
        ),
      deadline,
    );
  }

  async stopWorker(): Promise<void> {
    if (!this.working) return;
    this.working = false;
    await this.boss!.offWork(QUEUE);
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.boss?.stop({ graceful: false, wait: true });
    await this.schema.drop();
  }
}
