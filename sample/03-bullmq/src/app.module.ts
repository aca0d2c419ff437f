import { Module } from '@nestjs/common';
import { TasksModule } from 'nestjs-tasks';
import { BullMQBackend } from 'nestjs-tasks/bullmq';
import { SignupsController } from './signups.controller.js';
import { WelcomeService } from './welcome.service.js';

/** Shared by the web process (main.ts) and the worker processes (tasks.ts). */
@Module({
  imports: [
    // No `worker` here: the web process only enqueues; `tasks:work` runs
    // the tasks, in as many processes (and machines) as Redis serves.
    TasksModule.forRoot({
      backends: {
        default: {
          backend: BullMQBackend,
          queues: ['emails'],
          options: {
            connection: {
              host: process.env.REDIS_HOST ?? '127.0.0.1',
              port: Number(process.env.REDIS_PORT ?? 6379),
            },
            prefix: 'sample-03',
          },
        },
      },
    }),
  ],
  controllers: [SignupsController],
  providers: [WelcomeService],
})
export class AppModule {}
