import { NestFactory } from '@nestjs/core';
import { TaskQueue } from '../../lib/index.js';
import { OutboxAppModule } from './outbox-app.module.js';
import { RedisRecordedTasks } from './redis-recorded-tasks.js';

/**
 * Boots the outbox application, enqueues `RedisRecordedTasks.record(7)` in
 * a transaction, prints the result's id (as one JSON line) before the
 * transaction commits, commits, then waits to be killed. Run with a Redis
 * that never answers, the relay after its COMMIT cannot happen.
 */
const app = await NestFactory.createApplicationContext(OutboxAppModule, {
  logger: ['error', 'warn'],
});
const queue = app.get(TaskQueue);
await queue.transaction(async () => {
  const result = await queue.enqueue(RedisRecordedTasks, 'record', 7);
  console.log(JSON.stringify({ id: result.id }));
});
setInterval(() => undefined, 60_000);
