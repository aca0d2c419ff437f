import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource, DataSourceOptions } from 'typeorm';
import {
  createTaskMigrations,
  DatabaseBackend,
  Task,
  TaskQueue,
  TasksModule,
  type TaskDefinition,
} from '../../lib/index.js';
import type { TaskWorker } from '../../lib/worker/task-worker.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import {
  checkDeadline,
  chunks,
  waitUntilDone,
  type BenchSystem,
} from '../harness.js';
import {
  DEFAULT_MARIADB_URL,
  DEFAULT_POSTGRES_URL,
  loopbackUrl,
} from '../urls.js';

export type BenchDatabase = 'postgres' | 'mariadb' | 'sqlite';

@Injectable()
class BenchTasks {
  @Task({ name: 'bench.noop' })
  async noop(_index: number): Promise<void> {}
}

@Module({})
class BenchModule {}

function dataSourceOptions(db: BenchDatabase, sqliteFile: string) {
  switch (db) {
    case 'postgres':
      return {
        type: 'postgres',
        url: loopbackUrl('BENCH_POSTGRES_URL', DEFAULT_POSTGRES_URL),
      } as const;
    case 'mariadb':
      return {
        type: 'mariadb',
        url: loopbackUrl('BENCH_MARIADB_URL', DEFAULT_MARIADB_URL),
      } as const;
    case 'sqlite':
      return {
        type: 'better-sqlite3',
        database: sqliteFile,
        enableWAL: true,
      } as const;
  }
}

/** nestjs-tasks' DatabaseBackend in a minimal Nest application context. */
export class NestjsTasksSystem implements BenchSystem {
  readonly name: string;
  private readonly table = `bench_${randomBytes(4).toString('hex')}`;
  private readonly sqliteFile = join(
    tmpdir(),
    `nestjs-tasks-${this.table}.sqlite`,
  );
  private app?: INestApplicationContext;
  private dataSource?: DataSource;
  private noop?: TaskDefinition<[number], void>;
  private worker?: { worker: TaskWorker; done: Promise<unknown> };

  constructor(private readonly db: BenchDatabase) {
    this.name = `nestjs-tasks (${db})`;
  }

  async open(): Promise<void> {
    const module: DynamicModule = {
      module: BenchModule,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions(this.db, this.sqliteFile),
          migrations: createTaskMigrations(this.table),
          migrationsTableName: `${this.table}_migrations`,
          migrationsRun: true,
          logging: false,
        } as DataSourceOptions),
        TasksModule.forRoot({
          backends: {
            default: {
              backend: DatabaseBackend,
              queues: [],
              options: { tableName: this.table },
            },
          },
        }),
      ],
      providers: [BenchTasks],
    };
    this.app = await NestFactory.createApplicationContext(module, {
      logger: false,
    });
    this.dataSource = this.app.get<DataSource>(getDataSourceToken());
    this.noop = this.app.get(TaskQueue).task(BenchTasks, 'noop');
  }

  async reset(): Promise<void> {
    await this.dataSource!.query(`DELETE FROM ${this.table}`);
    await this.dataSource!.query(`DELETE FROM ${this.table}_workers`);
  }

  async enqueueOne(n: number, deadline: AbortSignal): Promise<void> {
    for (let i = 0; i < n; i++) {
      checkDeadline(deadline);
      await this.noop!.enqueue(i);
    }
  }

  async enqueueBulk(
    n: number,
    chunk: number,
    deadline: AbortSignal,
  ): Promise<void> {
    for (const indexes of chunks(n, chunk)) {
      checkDeadline(deadline);
      await this.noop!.enqueueMany(indexes.map((i) => [i]));
    }
  }

  async drain(_n: number, deadline: AbortSignal): Promise<void> {
    const worker = this.app!.get(WorkerFactory).create({
      batch: true,
      concurrency: 10,
      intervalMs: 50,
    });
    this.worker = { worker, done: worker.run() };
    await waitUntilDone(async () => {
      const [row] = await this.dataSource!.query(
        `SELECT COUNT(*) AS n FROM ${this.table} WHERE status <> 'SUCCESSFUL'`,
      );
      return Number(row.n);
    }, deadline);
  }

  async stopWorker(): Promise<void> {
    if (!this.worker) return;
    const { worker, done } = this.worker;
    this.worker = undefined;
    worker.stop();
    await done;
  }

  async close(): Promise<void> {
    await this.stopWorker();
    try {
      if (this.dataSource?.isInitialized) {
        for (const table of [
          `${this.table}_workers`,
          this.table,
          `${this.table}_migrations`,
        ])
          await this.dataSource.query(`DROP TABLE IF EXISTS ${table}`);
      }
    } finally {
      await this.app?.close();
      if (this.db === 'sqlite') {
        for (const suffix of ['', '-wal', '-shm', '-journal'])
          rmSync(this.sqliteFile + suffix, { force: true });
      }
    }
  }
}
