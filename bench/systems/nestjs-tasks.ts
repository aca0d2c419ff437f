import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { TaskQueue, type TaskDefinition } from '../../lib/index.js';
import { eachChunk, eachIndex } from '../limits.js';
import { BULK_CHUNK, type BenchSystem, type WorkerSpec } from '../system.js';
import {
  BenchTasks,
  createBenchApp,
  type BenchDatabase,
  type NestjsTasksConfig,
} from './nestjs-tasks-app.js';

/** nestjs-tasks' DatabaseBackend in a minimal Nest application context. */
export class NestjsTasksSystem implements BenchSystem {
  private readonly config: NestjsTasksConfig;
  private app?: INestApplicationContext;
  private dataSource?: DataSource;
  private noop?: TaskDefinition<[number], void>;
  private pickup?: TaskDefinition<[number], void>;

  constructor(db: BenchDatabase) {
    const table = `bench_${randomBytes(4).toString('hex')}`;
    this.config = {
      db,
      table,
      sqliteFile: join(tmpdir(), `nestjs-tasks-${table}.sqlite`),
    };
  }

  async open(): Promise<void> {
    this.app = await createBenchApp(this.config, {
      runMigrations: true,
      observePickup: () => {},
    });
    this.dataSource = this.app.get<DataSource>(getDataSourceToken());
    const queue = this.app.get(TaskQueue);
    this.noop = queue.task(BenchTasks, 'noop');
    this.pickup = queue.task(BenchTasks, 'pickup');
  }

  async reset(): Promise<void> {
    await this.dataSource!.query(`DELETE FROM ${this.config.table}`);
    await this.dataSource!.query(`DELETE FROM ${this.config.table}_workers`);
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    await eachIndex(n, deadline, (i) => this.noop!.enqueue(i));
  }

  enqueueBulk(n: number, chunk: number, deadline: AbortSignal): Promise<void> {
    return this.enqueueMany(this.noop!, n, chunk, deadline);
  }

  enqueueDeferred(
    n: number,
    runAt: Date,
    deadline: AbortSignal,
  ): Promise<void> {
    return this.enqueueMany(
      this.noop!.using({ runAfter: runAt }),
      n,
      BULK_CHUNK,
      deadline,
    );
  }

  async enqueuePickup(enqueuedAt: number): Promise<void> {
    await this.pickup!.enqueue(enqueuedAt);
  }

  /** Tasks not yet finished (a count: a scan of the table where the statistics favour one). */
  async remaining(): Promise<number> {
    const [row] = await this.dataSource!.query(
      `SELECT COUNT(*) AS n FROM ${this.config.table} WHERE status IN ('READY', 'RUNNING')`,
    );
    return Number(row.n);
  }

  /** No READY row, then no RUNNING row (a READY row claimed meanwhile is RUNNING by then): each the first entry of its partial index. */
  async drained(): Promise<boolean> {
    for (const status of ['READY', 'RUNNING']) {
      const rows: unknown[] = await this.dataSource!.query(
        `SELECT 1 AS found FROM ${this.config.table} WHERE status = '${status}' LIMIT 1`,
      );
      if (rows.length > 0) return false;
    }
    return true;
  }

  worker(): WorkerSpec {
    return {
      entry: new URL('../workers/nestjs-tasks-worker.js', import.meta.url),
      config: this.config,
    };
  }

  async close(): Promise<void> {
    const { table } = this.config;
    try {
      if (this.dataSource?.isInitialized) {
        for (const name of [`${table}_workers`, table, `${table}_migrations`])
          await this.dataSource.query(`DROP TABLE IF EXISTS ${name}`);
      }
    } finally {
      await this.app?.close();
      if (this.config.db === 'sqlite') {
        for (const suffix of ['', '-wal', '-shm', '-journal'])
          rmSync(this.config.sqliteFile + suffix, { force: true });
      }
    }
  }

  private async enqueueMany(
    definition: TaskDefinition<[number], void>,
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    await eachChunk(n, chunk, deadline, (indexes) =>
      definition.enqueueMany(indexes.map((i) => [i])),
    );
  }
}
