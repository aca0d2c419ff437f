import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  describeConformance,
  type ConformanceCapabilities,
  type ConformanceHarness,
} from '../conformance/backend-conformance.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  deleteRedisPrefix,
  REDIS_ENV,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { bootBullMQApp } from './bullmq-test-app.js';

/** The queues the suite enqueues in. */
const QUEUES = ['default', 'reports'];

const capabilities: ConformanceCapabilities = {
  ordersByDueTime: {
    absent:
      'BullMQ orders waiting jobs by priority, then by when they became waiting: a task whose runAfter has passed waits from its enqueue',
  },
  writesInTransactions: {
    absent:
      'BullMQBackend cannot write in a database transaction: enqueues in one are held until it commits',
  },
  isolatesOpenTransactions: {
    absent: 'BullMQBackend cannot write in a database transaction',
  },
  storeCanBeMissing: {
    absent: 'Redis needs no schema: BullMQ creates its keys on first use',
  },
};

/** The suite's harness on Redis: a key prefix of its own, reached with BullMQ and ioredis. */
async function bullmqHarness(): Promise<ConformanceHarness> {
  const prefix = uniqueRedisPrefix('conf');
  const connection = { ...TEST_REDIS };
  const redis = new Redis(connection);
  const queues = new Map(
    QUEUES.map((name) => [name, new Queue(name, { connection, prefix })]),
  );
  const queue = (name: string) => queues.get(name)!;
  const job = async (id: string): Promise<Job> => {
    for (const candidate of queues.values()) {
      const found = await candidate.getJob(id);
      if (found) return found;
    }
    throw new Error(`No job ${id} under ${prefix}`);
  };
  const boot = () => bootBullMQApp({ prefix, providers: [ConformanceTasks] });

  return {
    boot,
    async bootElsewhere() {
      const moduleRef = await boot();
      return { moduleRef, close: () => moduleRef.close() };
    },
    async reset() {
      await Promise.all(
        [...queues.values()].map((q) => q.obliterate({ force: true })),
      );
      await deleteRedisPrefix(prefix);
    },
    async countStored() {
      let count = 0;
      for (const q of queues.values())
        for (const n of Object.values(await q.getJobCounts())) count += n;
      return count;
    },
    /**
     * A ghost worker takes the job and dies: its data says RUNNING in
     * attempt 1 by 'ghost', its lock is gone, and BullMQ's previous
     * stalled check saw it active (the next one moves it back).
     */
    async strand(id) {
      const ghost = new Worker('default', null, {
        connection: { ...connection, maxRetriesPerRequest: null },
        prefix,
        autorun: false,
      });
      try {
        const taken = await ghost.getNextJob('ghost-token', { block: false });
        if (taken?.id !== id) throw new Error(`Took ${taken?.id}, not ${id}`);
        const now = Date.now();
        await taken.updateData({
          ...taken.data,
          status: 'RUNNING',
          attempts: 1,
          workerIds: ['ghost'],
          startedAt: now - 5000,
          lastAttemptedAt: now - 5000,
        });
        const keys = queue('default').keys;
        await redis.del(`${prefix}:default:${id}:lock`, keys['stalled-check']);
        await redis.sadd(keys.stalled, id);
      } finally {
        await ghost.close();
      }
    },
    async availableAt(id) {
      return (await job(id)).data.availableAt as number;
    },
    async copyDamaged(id, damage) {
      const template = await job(id);
      const newId = randomUUID();
      const now = Date.now();
      const data = {
        ...template.data,
        status: 'READY',
        runAfter: null,
        availableAt: now - 1000,
        enqueuedAt: now - 1000,
        ...(damage === 'unregistered-task'
          ? { taskName: 'Removed.task' }
          : { args: '{not json' }),
      };
      await queue(template.queueName).add(data.taskName as string, data, {
        jobId: newId,
        priority: template.opts.priority,
      });
      return newId;
    },
    async close() {
      try {
        await Promise.all(
          [...queues.values()].map((q) => q.obliterate({ force: true })),
        );
        await deleteRedisPrefix(prefix);
      } finally {
        await Promise.all([...queues.values()].map((q) => q.close()));
        redis.disconnect();
      }
    },
  };
}

// Redis is absent (found by the global setup, which fails instead under
// CI=true): the suite is skipped, its title saying why.
if (process.env[REDIS_ENV] === '0')
  describe.skip('BullMQBackend conformance on Redis (Redis not reachable)', () => {
    it('needs Redis at 127.0.0.1:6379', () => undefined);
  });
else
  describeConformance(
    'BullMQBackend conformance on Redis',
    bullmqHarness,
    capabilities,
  );
