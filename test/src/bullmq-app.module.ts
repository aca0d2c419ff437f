import { Module } from '@nestjs/common';
import { TasksModule } from '../../lib/index.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { RedisRecordedTasks } from './redis-recorded-tasks.js';

const env = process.env;

/**
 * The application the BullMQBackend worker processes boot, configured from
 * the environment: TASKS_TEST_REDIS_PREFIX (the key prefix),
 * TASKS_TEST_LEASE_MS (BullMQ's lock duration) and TASKS_TEST_STALLED_MS
 * (its stalled-job check interval).
 */
@Module({
  imports: [
    TasksModule.forRoot({
      backends: {
        default: {
          backend: BullMQBackend,
          queues: [],
          options: {
            connection: { host: '127.0.0.1', port: 6379 },
            prefix: env.TASKS_TEST_REDIS_PREFIX,
            workerOptions: {
              lockDuration: Number(env.TASKS_TEST_LEASE_MS ?? 30000),
              stalledInterval: Number(env.TASKS_TEST_STALLED_MS ?? 30000),
            },
          },
        },
      },
    }),
  ],
  providers: [RedisRecordedTasks],
})
export class BullMQAppModule {}
