/**
 * BullMQBackend workers are woken for queues first used after they started
 * only when they claim from them: each watched queue costs a worker
 * process connections of its own.
 */
import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { bootBullMQApp } from './bullmq-test-app.js';

const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

describeWithRedis('BullMQBackend wake-ups of queues first used later', () => {
  const prefix = uniqueRedisPrefix('wakeups');
  const redis = new Redis(TEST_REDIS);
  let web: TestingModule;
  let app: TestingModule;

  afterAll(async () => {
    await web?.close();
    await app?.close();
    redis.disconnect();
    await deleteRedisPrefix(prefix);
  });

  /** How many connections BullMQ named for `queueName` (`<prefix>:<base64 name>…`: a Worker's blocking one). */
  async function workerConnections(queueName: string): Promise<number> {
    const name = `${prefix}:${Buffer.from(queueName).toString('base64')}`;
    const list = (await redis.client('LIST')) as string;
    return list
      .split('\n')
      .filter((line) => /\bname=(\S*)/.exec(line)?.[1]?.startsWith(name))
      .length;
  }

  it('opens no connection for a queue first used later that the worker does not claim from', async () => {
    web = await bootBullMQApp({ prefix, providers: [MathTasks] });
    app = await bootBullMQApp({ prefix, providers: [MathTasks] });
    const queue = web.get(TaskQueue);
    const worker = app.get(WorkerFactory).create({
      queues: ['a'],
      concurrency: 1,
      prefetch: 0,
      intervalMs: 3_600_000,
    });
    const running = worker.run();
    try {
      // Its first claim made and its wait for wake-ups begun.
      await sleep(500);
      const other = await queue
        .task(MathTasks, 'add')
        .using({ queueName: 'b' })
        .enqueue(1, 2);
      const served = await queue
        .task(MathTasks, 'add')
        .using({ queueName: 'a' })
        .enqueue(1, 2);
      await waitFor(
        'the task of its queue to run',
        async () =>
          (await queue.getResult(served.id)).status ===
          TaskResultStatus.SUCCESSFUL,
      );
      expect(await workerConnections('a')).toBeGreaterThan(0);
      expect(await workerConnections('b')).toBe(0);
      expect((await queue.getResult(other.id)).status).toBe(
        TaskResultStatus.READY,
      );
    } finally {
      worker.stop();
      await running;
    }
  });
});
