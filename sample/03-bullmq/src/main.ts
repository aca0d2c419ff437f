import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule);
  app.enableShutdownHooks();

  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port);
  Logger.log(
    `Web process listening on http://localhost:${port} — try: curl -X POST -H 'content-type: application/json' -d '{"email":"ada@example.com"}' localhost:${port}/signups`,
    'Bootstrap',
  );
}

bootstrap().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
