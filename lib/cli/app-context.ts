import {
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type LoggerService,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TASKS_IN_PROCESS_WORKER_DISABLED } from '../tasks.constants.js';

/** Wraps the application's module for a `tasks:*` command: the command runs its own worker, if any. */
@Module({})
class TasksCommandModule {
  static wrap(appModule: Type<unknown>): DynamicModule {
    return {
      module: TasksCommandModule,
      global: true,
      imports: [appModule],
      providers: [
        { provide: TASKS_IN_PROCESS_WORKER_DISABLED, useValue: true },
      ],
      exports: [TASKS_IN_PROCESS_WORKER_DISABLED],
    };
  }
}

/** Boots the application without an HTTP server, runs `work`, and always closes it; `logger` replaces Nest's default one. */
export async function withAppContext<T>(
  appModule: Type<unknown>,
  work: (app: INestApplicationContext) => Promise<T>,
  options: { logger?: LoggerService } = {},
): Promise<T> {
  const app = await NestFactory.createApplicationContext(
    TasksCommandModule.wrap(appModule),
    {
      bufferLogs: false,
      ...(options.logger ? { logger: options.logger } : {}),
    },
  );
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
