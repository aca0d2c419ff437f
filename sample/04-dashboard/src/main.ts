import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();

  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  Logger.log(
    `Dashboard on http://localhost:${port}/tasks (user admin, password $DASHBOARD_PASSWORD or 'change-me'); ` +
      `enqueue a report: curl -X POST localhost:${port}/reports/40 (13 pages: fails once)`,
    'Bootstrap',
  );
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
