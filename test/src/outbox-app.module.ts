import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TasksModule } from '../../lib/index.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { RedisRecordedTasks } from './redis-recorded-tasks.js';
import { dataSourceOptions, type TestDatabaseName } from './test-database.js';

const env = process.env;

/**
 * The application of the outbox process suite: a BullMQBackend whose
 * enqueues inside transactions of the default DataSource go through its
 * outbox. Configured from the environment: TASKS_TEST_DB and (for SQLite)
 * TASKS_TEST_SQLITE_FILE (the DataSource), TASKS_TEST_TABLE (the tasks
 * table the outbox table is named after), TASKS_TEST_REDIS_PREFIX and
 * TASKS_TEST_REDIS_PORT (where the backend finds Redis).
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
          backend: BullMQBackend,
          queues: [],
          options: {
            connection: {
              host: '127.0.0.1',
              port: Number(env.TASKS_TEST_REDIS_PORT ?? 6379),
            },
            prefix: env.TASKS_TEST_REDIS_PREFIX,
          },
          outbox: { tableName: env.TASKS_TEST_TABLE },
        },
      },
    }),
  ],
  providers: [RedisRecordedTasks],
})
export class OutboxAppModule {}
