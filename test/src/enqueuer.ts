import { existsSync } from 'node:fs';
import { NestFactory } from '@nestjs/core';
import { TaskQueue } from '../../lib/index.js';
import { AppModule } from './app.module.js';
import { ProcessTasks } from './process-tasks.js';

/**
 * Boots the test application, prints `ready`, waits until the file `go`
 * exists, then makes `count` concurrent enqueues of `ProcessTasks.keyed`
 * with `key` and prints the ids they returned, as one JSON line.
 *
 * Usage: node enqueuer.js <key> <count> <go>
 */
const [key, count, go] = process.argv.slice(2);
const app = await NestFactory.createApplicationContext(AppModule, {
  logger: ['error', 'warn'],
});
try {
  const queue = app.get(TaskQueue);
  // Opens the backend's store, so that the enqueues go straight to the database.
  const problems = await queue.backend().check();
  if (problems.length > 0) throw new Error(JSON.stringify(problems));
  console.log('ready');
  while (!existsSync(go))
    await new Promise((resolve) => setTimeout(resolve, 5));
  const results = await Promise.all(
    Array.from({ length: Number(count) }, () =>
      queue.enqueue(ProcessTasks, 'keyed', key),
    ),
  );
  console.log(JSON.stringify(results.map((result) => result.id)));
} finally {
  await app.close();
}
