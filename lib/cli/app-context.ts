import type { INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { suppressInProcessWorker } from '../worker/in-process-worker.service.js';

/** Boots the application without an HTTP server, runs `work`, and always closes it. */
export async function withAppContext<T>(
  appModule: Type<unknown>,
  work: (app: INestApplicationContext) => Promise<T>,
): Promise<T> {
  suppressInProcessWorker();
  const app = await NestFactory.createApplicationContext(appModule, {
    bufferLogs: false,
  });
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}
