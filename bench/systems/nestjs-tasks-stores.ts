import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { benchRedis } from './nestjs-tasks-app.js';

/** The queue the bench's tasks are enqueued on. */
const QUEUE = 'default';

/** What the bench asks of nestjs-tasks' store besides the API: emptying it, counting what is left, dropping it. */
export interface TaskStoreProbe {
  reset(): Promise<void>;
  remaining(): Promise<number>;
  /** Whether every task is complete, asked cheaply (the drain polls it). */
  drained(): Promise<boolean>;
  drop(): Promise<void>;
}

/** The tables of a DatabaseBackend. */
export class SqlStoreProbe implements TaskStoreProbe {
  constructor(
    private readonly dataSource: DataSource,
    private readonly db: 'postgres' | 'mariadb' | 'sqlite',
    private readonly table: string,
  ) {}

  /** Emptied whole (TRUNCATE where there is one): no dead rows left behind for the next phase. */
  async reset(): Promise<void> {
    for (const table of [this.table, `${this.table}_workers`])
      await this.dataSource.query(
        this.db === 'sqlite'
          ? `DELETE FROM ${table}`
          : `TRUNCATE TABLE ${table}`,
      );
  }

  /** Tasks not yet finished, deferred ones (SCHEDULED) included (a count: a scan of the table where the statistics favour one). */
  async remaining(): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT COUNT(*) AS n FROM ${this.table} WHERE status IN ('READY', 'SCHEDULED', 'RUNNING')`,
    );
    return Number(row.n);
  }

  /**
   * No READY row of the bench's priority (0; the scale phase's deferred
   * tasks have a higher one), then no RUNNING row (a READY row claimed
   * meanwhile is RUNNING by then): each the first entry of its partial index.
   */
  async drained(): Promise<boolean> {
    for (const where of [
      "status = 'READY' AND priority = 0",
      "status = 'RUNNING'",
    ]) {
      const rows: unknown[] = await this.dataSource.query(
        `SELECT 1 AS found FROM ${this.table} WHERE ${where} LIMIT 1`,
      );
      if (rows.length > 0) return false;
    }
    return true;
  }

  async drop(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    for (const name of [
      `${this.table}_workers`,
      `${this.table}_schedules`,
      `${this.table}_outbox`,
      this.table,
      `${this.table}_migrations`,
    ])
      await this.dataSource.query(`DROP TABLE IF EXISTS ${name}`);
  }
}

/** The keys of a BullMQBackend under `prefix`, read through BullMQ's own queue. */
export class RedisStoreProbe implements TaskStoreProbe {
  private readonly queue: Queue;

  constructor(private readonly prefix: string) {
    this.queue = new Queue(QUEUE, { connection: benchRedis(), prefix });
  }

  async reset(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }

  /** Jobs in any state but completed and failed: counters BullMQ keeps, no scan. */
  async remaining(): Promise<number> {
    const counts = await this.queue.getJobCounts(
      'active',
      'wait',
      'delayed',
      'prioritized',
      'waiting-children',
    );
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  async drained(): Promise<boolean> {
    return (await this.remaining()) === 0;
  }

  /** Every key under the prefix, the backend's own included. */
  async drop(): Promise<void> {
    const client = new Redis(benchRedis());
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          `${this.prefix}:*`,
          'COUNT',
          1000,
        );
        if (keys.length > 0) await client.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      client.disconnect();
      await this.queue.close();
    }
  }
}
