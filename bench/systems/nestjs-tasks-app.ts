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
import {
  createTaskMigrations,
  DatabaseBackend,
  Task,
  TasksModule,
} from '../../lib/index.js';
import {
  DEFAULT_MARIADB_URL,
  DEFAULT_POSTGRES_URL,
  loopbackUrl,
} from '../urls.js';

export type BenchDatabase = 'postgres' | 'mariadb' | 'sqlite';

/** What the bench and its worker processes share to open the same store. */
export interface NestjsTasksConfig {
  db: BenchDatabase;
  /** The tasks table; the workers table and the migrations table derive from it. */
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

function dataSourceOptions(config: NestjsTasksConfig) {
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
  const module: DynamicModule = {
    module: BenchModule,
    imports: [
      TypeOrmModule.forRoot({
        ...dataSourceOptions(config),
        migrations: createTaskMigrations(config.table),
        migrationsTableName: `${config.table}_migrations`,
        migrationsRun: options.runMigrations,
        logging: false,
      } as DataSourceOptions),
      TasksModule.forRoot({
        backends: {
          default: {
            backend: DatabaseBackend,
            queues: [],
            options: { tableName: config.table },
          },
        },
      }),
    ],
    providers: [
      BenchTasks,
      { provide: PICKUP_OBSERVER, useValue: options.observePickup },
    ],
  };
  return NestFactory.createApplicationContext(module, { logger: false });
}
