import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { DataSourceOptions } from 'typeorm';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import {
  createTaskMigrations,
  DatabaseBackend,
  Task,
  TasksModule,
  type TaskBackendConfig,
} from '../../lib/index.js';
import {
  DEFAULT_MARIADB_URL,
  DEFAULT_POSTGRES_URL,
  DEFAULT_REDIS_URL,
  loopbackUrl,
} from '../urls.js';
import { redisConnection } from './bullmq-store.js';

/** Where nestjs-tasks keeps the bench's tasks: a database (DatabaseBackend) or Redis (BullMQBackend). */
export type BenchDatabase = 'postgres' | 'mariadb' | 'sqlite' | 'redis';
type SqlDatabase = Exclude<BenchDatabase, 'redis'>;

/** What the bench and its worker processes share to open the same store. */
export interface NestjsTasksConfig {
  db: BenchDatabase;
  /** The tasks table (the workers table and the migrations table derive from it), or on Redis the key prefix. */
  table: string;
  sqliteFile: string;
}

const PICKUP_OBSERVER = Symbol('PICKUP_OBSERVER');

type PickupObserver = (enqueuedAt: number) => void;

@Injectable()
export class BenchTasks {
  constructor(
    @Inject(PICKUP_OBSERVER) private readonly observePickup: PickupObserver,
  ) {}

  @Task({ name: 'bench.noop' })
  async noop(_index: number): Promise<void> {}

  /** Reports when it starts, with the time its enqueue call began. */
  @Task({ name: 'bench.pickup' })
  async pickup(enqueuedAt: number): Promise<void> {
    this.observePickup(enqueuedAt);
  }
}

@Module({})
class BenchModule {}

/** The Redis of the bench's BullMQBackend. */
export const benchRedis = () =>
  redisConnection(loopbackUrl('BENCH_REDIS_URL', DEFAULT_REDIS_URL));

function dataSourceOptions(config: NestjsTasksConfig & { db: SqlDatabase }) {
  switch (config.db) {
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
        database: config.sqliteFile,
        enableWAL: true,
      } as const;
  }
}

/**
 * A minimal Nest application context with `DatabaseBackend` on the store
 * of `config`: the bench's own (which runs the migrations) and each worker
 * process's are built alike.
 */
export function createBenchApp(
  config: NestjsTasksConfig,
  options: { runMigrations: boolean; observePickup: PickupObserver },
): Promise<INestApplicationContext> {
  const backend: TaskBackendConfig =
    config.db === 'redis'
      ? {
          backend: BullMQBackend,
          queues: [],
          options: { connection: benchRedis(), prefix: config.table },
        }
      : {
          backend: DatabaseBackend,
          queues: [],
          options: { tableName: config.table },
        };
  const module: DynamicModule = {
    module: BenchModule,
    imports: [
      ...(config.db === 'redis'
        ? []
        : [
            TypeOrmModule.forRoot({
              ...dataSourceOptions({ ...config, db: config.db }),
              migrations: createTaskMigrations(config.table),
              migrationsTableName: `${config.table}_migrations`,
              migrationsRun: options.runMigrations,
              logging: false,
            } as DataSourceOptions),
          ]),
      TasksModule.forRoot({ backends: { default: backend } }),
    ],
    providers: [
      BenchTasks,
      { provide: PICKUP_OBSERVER, useValue: options.observePickup },
    ],
  };
  return NestFactory.createApplicationContext(module, { logger: false });
}
