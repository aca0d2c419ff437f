import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseBackend, TasksModule } from '../../lib/index.js';
import { PeriodicTasks } from './periodic-tasks.js';
import { ProcessEvents } from './process-events.js';
import { ProcessTasks } from './process-tasks.js';
import { dataSourceOptions, type TestDatabaseName } from './test-database.js';

const env = process.env;

/**
 * The application the worker processes of the end-to-end suites boot,
 * configured from the environment: TASKS_TEST_DB, TASKS_TEST_TABLE,
 * TASKS_TEST_LEASE_MS and (for SQLite) TASKS_TEST_SQLITE_FILE; with
 * TASKS_TEST_RECORD_FINISHED=1 it also records `finished` events, with
 * TASKS_TEST_PERIODIC=1 it has a task scheduled every second.
 */
@Module({
  imports: [
    TypeOrmModule.forRoot(
      dataSourceOptions(
        env.TASKS_TEST_DB as TestDatabaseName,
        env.TASKS_TEST_SQLITE_FILE,
      ),
    ),
    TasksModule.forRoot({
      backends: {
        default: {
          backend: DatabaseBackend,
          queues: [],
          options: {
            tableName: env.TASKS_TEST_TABLE,
            leaseMs: Number(env.TASKS_TEST_LEASE_MS ?? 30000),
          },
        },
      },
    }),
  ],
  providers: [
    ProcessTasks,
    ProcessEvents,
    ...(env.TASKS_TEST_PERIODIC === '1' ? [PeriodicTasks] : []),
  ],
})
export class AppModule {}
