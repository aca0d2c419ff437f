/**
 * BullMQBackend with `tasks:work` processes of the test application
 * (test/src/bullmq-worker.ts) on the real Redis: exactly-once runs across
 * processes, the rescue of a killed worker's tasks, cancels seen across
 * processes, and tasks:status / tasks:prune.
 */
import type { TestingModule } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
} from '../../lib/index.js';
import {
  RedisRecordedTasks,
  runsKey,
  type RecordedRun,
} from '../src/redis-recorded-tasks.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import {
  BULLMQ_WORKER_ENTRY,
  buildTestApp,
  killAll,
  startCli,
  type WorkerProcess,
} from '../support/worker-process.js';
import { bootBullMQApp } from './bullmq-test-app.js';

const LEASE_MS = 1500;
const STALLED_MS = 300;

describeWithRedis('BullMQBackend with worker processes', () => {
  const prefix = uniqueRedisPrefix('proc');
  const env = {
    TASKS_TEST_REDIS_PREFIX: prefix,
    TASKS_TEST_LEASE_MS: String(LEASE_MS),
    TASKS_TEST_STALLED_MS: String(STALLED_MS),
  };
  const processes: WorkerProcess[] = [];
  let moduleRef: TestingModule;
  let queue: TaskQueue;
  let redis: Redis;
  let bullQueue: Queue;

  const cli = (...args: string[]) => {
    const started = startCli(env, args, BULLMQ_WORKER_ENTRY);
    processes.push(started);
    return started;
  };
  const work = (...args: string[]) =>
    cli('tasks:work', '--interval', '100', ...args);
  const expectExit = async (worker: WorkerProcess, code: number | string) => {
    const exit = await worker.exited;
    if (exit !== code)
      throw new Error(
        `process exited with ${exit}, expected ${code}; its output:\n${worker.output()}`,
      );
  };
  const runs = async (): Promise<RecordedRun[]> =>
    (await redis.lrange(runsKey(prefix), 0, -1)).map(
      (text) => JSON.parse(text) as RecordedRun,
    );
  const counts = () => bullQueue.getJobCounts();

  beforeAll(async () => {
    await buildTestApp();
    redis = new Redis(TEST_REDIS);
    bullQueue = new Queue('default', { connection: TEST_REDIS, prefix });
    process.env.TASKS_TEST_REDIS_PREFIX = prefix;
    moduleRef = await bootBullMQApp({
      prefix,
      leaseMs: LEASE_MS,
      stalledIntervalMs: STALLED_MS,
      providers: [RedisRecordedTasks],
    });
    queue = moduleRef.get(TaskQueue);
  }, 120_000);

  afterEach(async () => {
    await killAll(processes);
    await bullQueue.obliterate({ force: true });
    await deleteRedisPrefix(prefix);
  });

  afterAll(async () => {
    try {
      await moduleRef?.close();
      await bullQueue?.close();
    } finally {
      redis?.disconnect();
    }
  });

  it('runs every task exactly once across 3 worker processes × concurrency 8', async () => {
    const total = 3000;
    const results = await queue
      .task(RedisRecordedTasks, 'record')
      .enqueueMany(Array.from({ length: total }, (_, i) => [i]));
    expect(new Set(results.map((result) => result.id)).size).toBe(total);
    const workers = [1, 2, 3].map(() => work('--batch', '--concurrency', '8'));
    for (const worker of workers) await expectExit(worker, 0);
    expect(await counts()).toMatchObject({
      completed: total,
      active: 0,
      waiting: 0,
      prioritized: 0,
      delayed: 0,
      failed: 0,
    });
    const all = await runs();
    expect(all).toHaveLength(total);
    expect(new Set(all.map((run) => run.id)).size).toBe(total);
    expect(new Set(all.map((run) => run.pid)).size).toBeGreaterThan(1);
    for (const index of [0, 1499, 2999]) {
      const done = await queue.getResult(results[index].id);
      expect(done.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(done.returnValue).toBe(index);
      expect(done.attempts).toBe(1);
    }
  }, 180_000);

  it('recovers the tasks of a SIGKILLed worker through the stalled check: retried while attempts remain, else FAILED as interrupted; none stays active', async () => {
    const once = await queue
      .task(RedisRecordedTasks, 'sleep')
      .enqueueMany(Array.from({ length: 4 }, () => [60_000]));
    const twice = await queue
      .task(RedisRecordedTasks, 'sleepFirstAttempt')
      .enqueueMany(Array.from({ length: 4 }, () => [60_000]));
    const doomed = work('--concurrency', '8');
    await waitFor(
      'all eight tasks to start',
      async () => (await runs()).length === 8,
    );
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    expect((await counts()).active).toBe(8);
    const rescuer = work('--concurrency', '4');
    await waitFor(
      'the recovery of all eight',
      async () => (await counts()).failed + (await counts()).completed === 8,
      30_000,
    );
    rescuer.child.kill('SIGTERM');
    await expectExit(rescuer, 0);
    expect((await counts()).active).toBe(0);
    for (const result of once) {
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.FAILED);
      expect(result.attempts).toBe(1);
      expect(result.errors.map((error) => error.errorClass)).toEqual([
        'TaskInterruptedError',
      ]);
      expect(result.errors[0].message).toContain('stopped heartbeating');
    }
    for (const result of twice) {
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe('attempt 2');
      expect(result.attempts).toBe(2);
      expect(result.errors.map((error) => error.errorClass)).toEqual([
        'TaskInterruptedError',
      ]);
      expect(result.workerIds).toHaveLength(2);
    }
    // The tasks with one attempt never ran again; the others ran twice.
    expect(await runs()).toHaveLength(12);
  }, 60_000);

  // Guards against a worker killed right after a claim of 25+ jobs (two
  // batched takes and starts), some of its tasks running, others not yet:
  // every one comes back through the stalled check, none stays active, no
  // attempt runs twice.
  it('recovers every job of a worker SIGKILLed just after a batched claim of 40', async () => {
    const total = 40;
    const results = await queue
      .task(RedisRecordedTasks, 'sleepFirstAttempt')
      .enqueueMany(Array.from({ length: total }, () => [60_000]));
    const doomed = work('--concurrency', String(total));
    await waitFor('a task running', async () => (await runs()).length > 0);
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toBe('SIGKILL');
    const rescuer = work('--concurrency', String(total));
    await waitFor(
      'the recovery of all forty',
      async () => (await counts()).completed === total,
      30_000,
    );
    rescuer.child.kill('SIGTERM');
    await expectExit(rescuer, 0);
    expect(await counts()).toMatchObject({ active: 0, failed: 0, waiting: 0 });
    for (const result of results) {
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe(`attempt ${result.attempts}`);
      // A second attempt only after an interrupted first one.
      expect(result.errors.map((error) => error.errorClass)).toEqual(
        result.attempts === 2 ? ['TaskInterruptedError'] : [],
      );
    }
    const all = await runs();
    expect(new Set(all.map((run) => `${run.id}#${run.attempt}`)).size).toBe(
      all.length,
    );
    expect(new Set(all.map((run) => run.id)).size).toBe(total);
  }, 60_000);

  // Guards against a worker paused (SIGSTOP) past its lease overwriting,
  // once resumed, the results of the worker that took its jobs over.
  it('refuses the late outcomes of a worker resumed after SIGSTOP past its lease', async () => {
    const results = await queue
      .task(RedisRecordedTasks, 'sleepFirstAttempt')
      .enqueueMany(Array.from({ length: 30 }, () => [LEASE_MS * 2]));
    const paused = work('--concurrency', '30');
    await waitFor('all started', async () => (await runs()).length === 30);
    paused.child.kill('SIGSTOP');
    const other = work('--concurrency', '30');
    await waitFor(
      'the other worker to finish them',
      async () => (await counts()).completed === 30,
      30_000,
    );
    paused.child.kill('SIGCONT');
    // Its sleeps end at once now: it tries to write its first attempts' outcomes.
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    paused.child.kill('SIGTERM');
    other.child.kill('SIGTERM');
    await expectExit(other, 0);
    await paused.exited;
    expect(await counts()).toMatchObject({ active: 0, completed: 30 });
    for (const result of results) {
      await result.refresh();
      expect([result.status, result.returnValue, result.attempts]).toEqual([
        TaskResultStatus.SUCCESSFUL,
        'attempt 2',
        2,
      ]);
    }
  }, 60_000);

  it('lets a running task finish on SIGTERM and exits 0; on a second signal aborts it, exits non-zero and records it interrupted', async () => {
    const finishing = await queue.enqueue(RedisRecordedTasks, 'sleep', 1000);
    const graceful = work('--concurrency', '2');
    await waitFor('the task to run', async () => (await runs()).length === 1);
    graceful.child.kill('SIGTERM');
    await expectExit(graceful, 0);
    await finishing.refresh();
    expect(finishing.status).toBe(TaskResultStatus.SUCCESSFUL);

    const aborted = await queue.enqueue(RedisRecordedTasks, 'sleep', 30_000);
    const worker = work('--concurrency', '2');
    await waitFor('the task to run', async () => (await runs()).length === 2);
    worker.child.kill('SIGTERM');
    await waitFor('the first signal to be handled', () =>
      worker.output().includes('SIGTERM received'),
    );
    worker.child.kill('SIGTERM');
    await expectExit(worker, 1);
    await aborted.refresh();
    expect(aborted.status).toBe(TaskResultStatus.FAILED);
    expect(aborted.errors.map((error) => error.errorClass)).toEqual([
      'TaskInterruptedError',
    ]);
    expect((await counts()).active).toBe(0);
  }, 30_000);

  it('ends a running task CANCELLED when another process cancels it, without retrying it', async () => {
    const result = await queue.enqueue(RedisRecordedTasks, 'untilCancelled');
    const worker = work('--concurrency', '2');
    await waitFor('the task to run', async () => (await runs()).length === 1);
    const cancelling = await queue.cancel(result.id);
    expect(cancelling.status).toBe(TaskResultStatus.RUNNING);
    await waitFor(
      'the task to end',
      async () => (await queue.getResult(result.id)).isFinished,
    );
    const done = await queue.getResult(result.id);
    expect(done.status).toBe(TaskResultStatus.CANCELLED);
    expect(done.attempts).toBe(1);
    expect(done.errors.map((error) => error.errorClass)).toEqual([
      'TaskCancelledError',
    ]);
    worker.child.kill('SIGTERM');
    await expectExit(worker, 0);
    expect(await runs()).toHaveLength(1);
  }, 30_000);

  it('tasks:status shows counts per queue and status and the live workers', async () => {
    const [, doomed] = await queue
      .task(RedisRecordedTasks, 'record')
      .enqueueMany([[1], [2], [3]]);
    await queue.cancel(doomed.id);
    const worker = work('--concurrency', '1', '--worker-id', 'status-probe');
    await waitFor(
      'the queue to drain',
      async () => (await counts()).completed === 2,
    );
    const status = cli('tasks:status');
    await expectExit(status, 0);
    expect(status.output()).toMatch(/default\s+SUCCESSFUL\s+2/);
    expect(status.output()).toMatch(/default\s+CANCELLED\s+1/);
    expect(status.output()).toContain('status-probe');
    worker.child.kill('SIGTERM');
    await expectExit(worker, 0);
  }, 30_000);

  it('tasks:check passes on a reachable Redis', async () => {
    const check = cli('tasks:check');
    await expectExit(check, 0);
    expect(check.output()).toContain("Backend 'default' (BullMQBackend): OK");
  }, 30_000);

  it('tasks:prune deletes finished results older than asked, and --dry-run only counts', async () => {
    const [old, recent, cancelled] = await queue
      .task(RedisRecordedTasks, 'record')
      .enqueueMany([[1], [2], [3]]);
    await queue.cancel(cancelled.id);
    await expectExit(work('--batch'), 0);
    const eightDaysAgo = Date.now() - 8 * 86_400_000;
    for (const [id, set] of [
      [old.id, 'completed'],
      [cancelled.id, 'failed'],
    ]) {
      await redis.zadd(`${prefix}:default:${set}`, 'XX', eightDaysAgo, id);
      await redis.hset(`${prefix}:default:${id}`, 'finishedOn', eightDaysAgo);
    }
    const dryRun = cli('tasks:prune', '--older-than', '7d', '--dry-run');
    await expectExit(dryRun, 0);
    expect(dryRun.output()).toContain('Would delete 2 result(s)');
    expect((await counts()).completed).toBe(2);
    const prune = cli(
      'tasks:prune',
      '--older-than',
      '7d',
      '--status',
      'SUCCESSFUL',
      '--batch-size',
      '1',
    );
    await expectExit(prune, 0);
    expect(prune.output()).toContain('Deleted 1 result(s)');
    await expect(queue.getResult(old.id)).rejects.toThrow(
      TaskResultDoesNotExistError,
    );
    expect((await queue.getResult(recent.id)).status).toBe(
      TaskResultStatus.SUCCESSFUL,
    );
    expect((await queue.getResult(cancelled.id)).status).toBe(
      TaskResultStatus.CANCELLED,
    );
  }, 30_000);
});
