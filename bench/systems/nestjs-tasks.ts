import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { TaskQueue, type TaskDefinition } from '../../lib/index.js';
import { eachChunk, eachIndex } from '../limits.js';
import {
  BULK_CHUNK,
  type BenchSystem,
  type ScaleOperations,
  type WorkerSpec,
} from '../system.js';
import {
  BenchTasks,
  createBenchApp,
  type BenchDatabase,
  type NestjsTasksConfig,
} from './nestjs-tasks-app.js';
import { SqlScaleOperations } from './nestjs-tasks-scale.js';
import {
  RedisStoreProbe,
  SqlStoreProbe,
  type TaskStoreProbe,
} from './nestjs-tasks-stores.js';

/** nestjs-tasks in a minimal Nest application context: DatabaseBackend on a database, or BullMQBackend on Redis. */
export class NestjsTasksSystem implements BenchSystem {
  private readonly config: NestjsTasksConfig;
  private app?: INestApplicationContext;
  private probe?: TaskStoreProbe;
  private noop?: TaskDefinition<[number], void>;
  private pickup?: TaskDefinition<[number], void>;
  scale?: ScaleOperations;

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
    const queue = this.app.get(TaskQueue);
    this.noop = queue.task(BenchTasks, 'noop');
    this.pickup = queue.task(BenchTasks, 'pickup');
    const { db, table } = this.config;
    if (db === 'redis') {
      this.probe = new RedisStoreProbe(table);
      return;
    }
    const dataSource = this.app.get<DataSource>(getDataSourceToken());
    this.probe = new SqlStoreProbe(dataSource, db, table);
    this.scale = new SqlScaleOperations(
      this.app,
      dataSource,
      db,
      table,
      this.noop,
    );
  }

  reset(): Promise<void> {
    return this.probe!.reset();
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

  remaining(): Promise<number> {
    return this.probe!.remaining();
  }

  drained(): Promise<boolean> {
    return this.probe!.drained();
  }

  worker(): WorkerSpec {
    return {
      entry: new URL('../workers/nestjs-tasks-worker.js', import.meta.url),
      config: this.config,
    };
  }

  async close(): Promise<void> {
    try {
      await this.probe?.drop();
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
