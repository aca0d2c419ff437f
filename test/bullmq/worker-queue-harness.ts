import 'reflect-metadata';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import type {
  AttemptRecord,
  ClaimedTask,
  WorkerQueue,
} from '../../lib/backends/worker-queue.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { RedisScripts } from '../../lib/backends/bullmq/redis-scripts.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import { deleteRedisPrefix, TEST_REDIS } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { bootBullMQApp, bullmqStoreOf } from './bullmq-test-app.js';

/** A BullMQBackend app whose worker queue a suite drives by hand, and a Redis client of the suite's own. */
export interface WorkerQueueHarness {
  moduleRef: TestingModule;
  queue: TaskQueue;
  tasks: ConformanceTasks;
  workers: WorkerQueue;
  store: BullMQStore;
  redis: Redis;
  /** Lets every lease run out, then waits until the stalled check (run by `rescuer`) put every active job of `queueName` back. */
  strand(rescuer: string, queueName: string): Promise<void>;
  /** Closes the app and the client, and deletes the prefix's keys. */
  close(): Promise<void>;
}

/** The harness's lease and stalled check, short so that a suite can wait them out. */
export const HARNESS_LEASE_MS = 600;
const HARNESS_STALLED_MS = 100;

/** Boots the harness on the keys under `prefix`. */
export async function bootWorkerQueueHarness(
  prefix: string,
): Promise<WorkerQueueHarness> {
  const moduleRef = await bootBullMQApp({
    prefix,
    providers: [ConformanceTasks],
    leaseMs: HARNESS_LEASE_MS,
    stalledIntervalMs: HARNESS_STALLED_MS,
  });
  const queue = moduleRef.get(TaskQueue);
  const redis = new Redis(TEST_REDIS);
  const workers = queue.backend().workerQueue()!;
  const store = bullmqStoreOf(queue);
  return {
    moduleRef,
    queue,
    tasks: moduleRef.get(ConformanceTasks),
    workers,
    store,
    redis,
    async strand(rescuer, queueName) {
      await new Promise((resolve) =>
        setTimeout(resolve, HARNESS_LEASE_MS + 50),
      );
      await waitFor(`the stalled check to empty ${queueName}`, async () => {
        await workers.rescueExpired(rescuer);
        return (
          (await (await store.queue(queueName)).getJobCounts()).active === 0
        );
      });
    },
    async close() {
      await moduleRef.close();
      redis.disconnect();
      await deleteRedisPrefix(prefix);
    },
  };
}

type Scripts = Record<string, (...args: unknown[]) => Promise<unknown>>;

/**
 * Wraps the first call of `RedisScripts[name]`: `before` runs first, then
 * the call; with `loseReply` the call runs in Redis and then rejects as a
 * connection lost before its reply would. Returns what undoes the wrap.
 */
export function intercept(
  name: keyof typeof RedisScripts,
  { before, loseReply }: { before?: () => Promise<void>; loseReply?: boolean },
): () => void {
  const scripts = RedisScripts as unknown as Scripts;
  const original = scripts[name];
  let calls = 0;
  scripts[name] = async (...args: unknown[]) => {
    if (++calls > 1) return original(...args);
    await before?.();
    const answer = await original(...args);
    if (loseReply) throw new Error('Reply lost.');
    return answer;
  };
  return () => {
    scripts[name] = original;
  };
}

/**
 * The outcome `status` of a claimed attempt, as its worker reports it: a
 * success returns 'done', anything else adds an error; a retry is due at
 * `retryAt`.
 */
export function attemptOutcome(
  claimed: ClaimedTask,
  workerId: string,
  status: TaskResultStatus,
  retryAt: Date | null = null,
): AttemptRecord {
  const data = claimed.result.snapshot;
  const succeeded = status === TaskResultStatus.SUCCESSFUL;
  return {
    data: {
      ...data,
      status,
      returnValue: succeeded ? 'done' : null,
      finishedAt: status === TaskResultStatus.READY ? null : new Date(),
      errors: succeeded
        ? data.errors
        : [
            ...data.errors,
            { errorClass: 'Error', message: 'boom', traceback: '' },
          ],
    },
    workerId,
    attempt: data.attempts,
    retryAt,
  };
}
