/**
 * The dashboard's side of the BullMQBackend's administration on the real
 * Redis: keyset pages over BullMQ's own lines and finished sets, activity
 * buckets, retry of one result and of a selection, cancel of a selection,
 * and the dashboard's pages on it.
 */
import 'reflect-metadata';
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { TestingModule } from '@nestjs/testing';
import {
  InvalidTaskError,
  Task,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  TaskContext,
  TasksError,
  TasksModule,
  type ResultsAdmin,
  type TaskResultData,
} from '../../lib/index.js';
import { Redis } from 'ioredis';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import { TasksDashboardModule } from '../../lib/dashboard/index.js';
import { SEARCH_BOUND } from '../../lib/backends/bullmq/bullmq-results-admin.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { batchWorker } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';
import { bootBullMQApp, bullmqOptions } from './bullmq-test-app.js';
import { allPages, expectRefusedFilters } from '../support/results-admin.js';

const { READY, RUNNING, SUCCESSFUL, FAILED, CANCELLED } = TaskResultStatus;
const HOUR = 3_600_000;

/** Tasks that fail their first run per key, and count their runs. */
@Injectable()
class FlakyTasks {
  readonly runs = new Map<string, number>();

  @Task()
  flaky(key: string): string {
    const run = (this.runs.get(key) ?? 0) + 1;
    this.runs.set(key, run);
    if (run === 1) throw new Error(`first run of ${key}`);
    return `ran ${key}`;
  }

  /** Runs until its signal aborts (cancelled), at most 10 s. */
  @Task({ takesContext: true })
  async hold(ctx: TaskContext): Promise<string> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    return 'held';
  }
}

/**
 * Whether `results` are in the order BullMQ finished their jobs, latest
 * first (its finish time, which orders its finished sets, is taken when the
 * outcome is written: a few ms after the result's `finishedAt`).
 */
async function latestFinishedFirst(
  prefix: string,
  results: TaskResultData[],
): Promise<boolean> {
  const redis = new Redis(TEST_REDIS);
  try {
    const finishedOn = await Promise.all(
      results.map(async (r) =>
        Number(
          await redis.hget(`${prefix}:${r.queueName}:${r.id}`, 'finishedOn'),
        ),
      ),
    );
    return finishedOn.every(
      (at, i) => at > 0 && (i === 0 || finishedOn[i - 1] >= at),
    );
  } finally {
    redis.disconnect();
  }
}

describeWithRedis('ResultsAdmin on BullMQBackend', () => {
  const prefix = uniqueRedisPrefix('results');
  let moduleRef: TestingModule;
  let queue: TaskQueue;
  let admin: ResultsAdmin;
  /** Runs what is due in the queues these tests run. */
  const work = () =>
    batchWorker(moduleRef, {
      queues: ['default', 'other', 'bulk', 'flaky'],
    }).run();

  beforeAll(async () => {
    moduleRef = await bootBullMQApp({
      prefix,
      providers: [MathTasks, FlakyTasks],
    });
    queue = moduleRef.get(TaskQueue);
    admin = queue.backend().admin()!.results!;
    const add = queue.task(MathTasks, 'add');
    await add.enqueueMany([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    await queue
      .task(MathTasks, 'fail')
      .enqueueMany([['one'], ['two'], ['three']]);
    await add.using({ queueName: 'other' }).enqueue(6, 6);
    await work();
  });

  afterAll(async () => {
    await moduleRef?.close();
    await deleteRedisPrefix(prefix);
  });

  it('lists every result, latest finished first, page by page without repeats or gaps', async () => {
    const pages = await allPages(admin, { limit: 4 });
    expect(pages.map((page) => page.length)).toEqual([4, 4, 1]);
    const all = pages.flat();
    expect(new Set(all.map((result) => result.id)).size).toBe(9);
    expect(await latestFinishedFirst(prefix, all)).toBe(true);
    for (const limit of [1, 2, 3, 50]) {
      const again = (await allPages(admin, { limit })).flat();
      expect(again.map((result) => result.id)).toEqual(
        all.map((result) => result.id),
      );
    }
  });

  it('filters by status, task, queue and id', async () => {
    const failed = await allPages(admin, { status: FAILED, limit: 2 });
    expect(failed.map((page) => page.length)).toEqual([2, 1]);
    expect(failed.flat().every((r) => r.status === FAILED)).toBe(true);
    expect(await latestFinishedFirst(prefix, failed.flat())).toBe(true);
    expect(new Set(failed.flat().map((r) => r.id)).size).toBe(3);

    const successful = (await allPages(admin, { status: SUCCESSFUL, limit: 4 }))
      .flat()
      .map((r) => r.args);
    expect(successful).toHaveLength(6);
    const adds = await admin.list({ taskName: 'MathTasks.add', limit: 50 });
    expect(adds.results).toHaveLength(6);
    expect(adds.next).toBeNull();
    const other = await admin.list({ queue: 'other', limit: 50 });
    expect(other.results.map((r) => r.args)).toEqual([[6, 6]]);
    const one = await admin.list({ id: other.results[0].id, limit: 50 });
    expect(one.results.map((r) => r.id)).toEqual([other.results[0].id]);
    expect(
      await admin.list({ id: other.results[0].id, status: FAILED, limit: 5 }),
    ).toEqual({ results: [], next: null });
    expect(
      await admin.list({
        status: SUCCESSFUL,
        taskName: 'MathTasks.fail',
        limit: 50,
      }),
    ).toEqual({ results: [], next: null });
    expect(await admin.list({ status: RUNNING, limit: 5 })).toEqual({
      results: [],
      next: null,
      order: expect.any(String),
    });
    expect(await admin.list({ queue: 'nowhere', limit: 5 })).toEqual({
      results: [],
      next: null,
      order: expect.any(String),
    });
  });

  it('finds a result by id, and null for an unknown one', async () => {
    const [failed] = (await admin.list({ status: FAILED, limit: 1 })).results;
    expect(await admin.find(failed.id)).toMatchObject({
      id: failed.id,
      status: FAILED,
      errors: [expect.objectContaining({ message: failed.errors[0].message })],
    });
    expect(await admin.find('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('counts the results finished in the last hour per bucket, queue and status', async () => {
    const buckets = await admin.activity(new Date(Date.now() - HOUR), 60_000);
    const total = (queueName: string, status: string) =>
      buckets
        .filter((b) => b.queue === queueName && b.status === status)
        .reduce((sum, b) => sum + b.count, 0);
    expect(total('default', SUCCESSFUL)).toBe(5);
    expect(total('default', FAILED)).toBe(3);
    expect(total('other', SUCCESSFUL)).toBe(1);
    for (const bucket of buckets)
      expect(bucket.start.getTime() % 60_000).toBe(0);
    expect(await admin.activity(new Date(Date.now() + 60_000), 60_000)).toEqual(
      [],
    );
  });

  it('lists READY results in the reverse of the order they run, running and waiting before finished ones', async () => {
    const add = queue.task(MathTasks, 'add').using({ queueName: 'idle' });
    const deferred = [];
    for (const hours of [1, 2, 3])
      deferred.push(
        await add
          .using({ runAfter: new Date(Date.now() + hours * HOUR) })
          .enqueue(hours, 0),
      );
    const waiting = [await add.enqueue(0, 1), await add.enqueue(0, 2)];
    const expected = [...deferred.reverse(), ...waiting.reverse()].map(
      (r) => r.id,
    );
    const ready = await allPages(admin, { status: READY, limit: 2 });
    expect(ready.map((page) => page.length)).toEqual([2, 2, 1]);
    expect(ready.flat().map((r) => r.id)).toEqual(expected);
    const all = (await allPages(admin, { limit: 3 })).flat();
    expect(all).toHaveLength(14);
    expect(all.slice(0, 5).map((r) => r.id)).toEqual(expected);
    expect(all.slice(5).every((r) => r.finishedAt !== null)).toBe(true);

    // Those enqueued after the page was read are left out of its bulk action.
    await expect(
      admin.cancelMatching({ queue: 'idle' }, new Date(0)),
    ).resolves.toBe(0);
    await expect(
      admin.cancelMatching({ queue: 'idle', status: SUCCESSFUL }),
    ).resolves.toBe(0);
    await expect(
      admin.cancelMatching({ queue: 'idle' }, new Date()),
    ).resolves.toBe(5);
    const cancelled = await admin.list({ queue: 'idle', limit: 10 });
    expect(cancelled.results.map((r) => r.status)).toEqual(
      Array(5).fill(CANCELLED),
    );
    expect(
      (await admin.list({ status: CANCELLED, limit: 10 })).results,
    ).toHaveLength(5);
    expect(
      (await admin.list({ status: FAILED, limit: 10 })).results,
    ).toHaveLength(3);
  });

  it('pages through a list line by its entries, going on at the next one when one leaves', async () => {
    const add = queue.task(MathTasks, 'add').using({ queueName: 'lists' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await add.enqueue(i, i)).id);
    // As BullMQ's stalled check puts jobs back: in the wait list, oldest on the right.
    const redis = new Redis(TEST_REDIS);
    try {
      const keys = `${prefix}:lists:`;
      await redis.zrem(`${keys}prioritized`, ...ids);
      await redis.lpush(`${keys}wait`, ...ids);
      const newestFirst = [...ids].reverse();
      const pages = await allPages(admin, { status: READY, limit: 2 });
      expect(pages.flat().map((r) => r.id)).toEqual(newestFirst);
      const first = await admin.list({ queue: 'lists', limit: 2 });
      expect(first.results.map((r) => r.id)).toEqual(newestFirst.slice(0, 2));
      // A job comes in on the left meanwhile: the next page goes on after the last shown.
      const late = await add.enqueue(9, 9);
      await redis.zrem(`${keys}prioritized`, late.id);
      await redis.lpush(`${keys}wait`, late.id);
      const second = await admin.list({
        queue: 'lists',
        limit: 2,
        after: first.next!,
      });
      expect(second.results.map((r) => r.id)).toEqual(newestFirst.slice(2, 4));
      // The last one shown leaves the list: the next page starts where it was.
      await redis.lrem(`${keys}wait`, 0, newestFirst[3]);
      const third = await admin.list({
        queue: 'lists',
        limit: 2,
        after: second.next!,
      });
      expect(third).toEqual({
        results: [expect.objectContaining({ id: newestFirst[4] })],
        next: null,
        order: expect.any(String),
      });
      expect(await admin.cancelMatching({ queue: 'lists' })).toBe(5);
      expect(await redis.llen(`${keys}wait`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('cancels every matching job of a long waiting list, batch after batch', async () => {
    const longList = queue.task(MathTasks, 'add').using({ queueName: 'long' });
    const adds = await longList.enqueueMany(
      Array.from({ length: 700 }, (_, i) => [i, i] as const),
    );
    const multiplies = await queue
      .task(MathTasks, 'multiply')
      .using({ queueName: 'long' })
      .enqueueMany(Array.from({ length: 500 }, (_, i) => [i, i] as const));
    const mixed = adds.flatMap((add, i) =>
      i < multiplies.length ? [add.id, multiplies[i].id] : [add.id],
    );
    const redis = new Redis(TEST_REDIS);
    try {
      const keys = `${prefix}:long:`;
      await redis.del(`${keys}prioritized`);
      await redis.lpush(`${keys}wait`, ...mixed);
      expect(
        await admin.cancelMatching({
          queue: 'long',
          taskName: 'MathTasks.multiply',
        }),
      ).toBe(500);
      expect(await redis.lrange(`${keys}wait`, 0, -1)).toEqual(
        adds.map((add) => add.id).reverse(),
      );
      expect(await admin.cancelMatching({ queue: 'long' })).toBe(700);
      expect(await redis.llen(`${keys}wait`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  it('lists RUNNING results, and cancels them through the backend', async () => {
    const held = await queue
      .task(FlakyTasks, 'hold')
      .using({ queueName: 'hold' })
      .enqueue();
    const running = batchWorker(moduleRef, { queues: ['hold'] }).run();
    await waitFor('the task to run', async () => {
      const page = await admin.list({ status: RUNNING, limit: 5 });
      return page.results.length === 1;
    });
    const all = await admin.list({ limit: 1 });
    expect(all.results.map((r) => [r.id, r.status])).toEqual([
      [held.id, RUNNING],
    ]);
    expect(await admin.cancelMatching({ status: RUNNING }, new Date(0))).toBe(
      0,
    );
    expect(await admin.cancelMatching({ status: RUNNING })).toBe(1);
    await running;
    await held.refresh();
    expect(held.status).toBe(CANCELLED);
    await expect(admin.retry(held.id)).resolves.toMatchObject({
      result: { status: READY },
    });
    expect(await admin.cancelMatching({ queue: 'hold' })).toBe(1);
  });

  it('refuses a cursor that is not one of the list, and values no job holds', async () => {
    const byFinish = await admin.list({ status: FAILED, limit: 1 });
    const ready = await admin.list({ limit: 1 });
    for (const after of [
      'nonsense',
      '5',
      '9999999999999999999',
      byFinish.next!,
      `finished::99999999999999999:x`,
      'delayed:nowhere:1:x',
      'prioritized:idle:1:a\u0000b',
    ]) {
      const listed = admin.list({ limit: 1, after });
      await expect(listed).rejects.toThrow(TasksError);
      await expect(listed).rejects.not.toThrow(InvalidTaskError);
      await expect(listed).rejects.toThrow(/not a cursor/);
    }
    await expect(
      admin.list({ status: FAILED, limit: 1, after: ready.next! }),
    ).rejects.toThrow(/not a cursor/);
    await expectRefusedFilters(admin, { longId: 256, longName: 256 });
  });

  it('retries a FAILED result as a new attempt of the same result, and refuses others', async () => {
    const [failed] = (await admin.list({ status: FAILED, limit: 1 })).results;
    const { result } = await admin.retry(failed.id);
    expect(result).toMatchObject({
      id: failed.id,
      status: READY,
      attempts: 1,
      maxAttempts: 2,
      finishedAt: null,
    });
    expect(result.errors).toHaveLength(1);
    expect(await admin.find(failed.id)).toMatchObject({ status: READY });
    await expect(admin.retry(failed.id)).rejects.toThrow(InvalidTaskError);
    await expect(admin.retry(failed.id)).rejects.toThrow(/is READY/);
    const [successful] = (await admin.list({ status: SUCCESSFUL, limit: 1 }))
      .results;
    await expect(admin.retry(successful.id)).rejects.toThrow(/is SUCCESSFUL/);
    await expect(
      admin.retry('00000000-0000-0000-0000-000000000000'),
    ).rejects.toThrow(TaskResultDoesNotExistError);
    await work();
    const again = await queue.getResult(failed.id);
    expect(again.status).toBe(FAILED);
    expect(again.attempts).toBe(2);
    expect(again.errors).toHaveLength(2);
  });

  it('retries a FAILED and a CANCELLED result until they succeed, same id, errors kept', async () => {
    const flaky = queue.task(FlakyTasks, 'flaky').using({ queueName: 'flaky' });
    const failed = await flaky.enqueue('failed-once');
    const cancelled = await flaky
      .using({ runAfter: new Date(Date.now() + HOUR) })
      .enqueue('cancelled');
    await work();
    await queue.cancel(cancelled.id);
    await failed.refresh();
    await cancelled.refresh();
    expect([failed.status, cancelled.status]).toEqual([FAILED, CANCELLED]);

    expect((await admin.retry(failed.id)).result.id).toBe(failed.id);
    expect((await admin.retry(cancelled.id)).result.status).toBe(READY);
    await work();
    const runs = moduleRef.get(FlakyTasks).runs;
    // Cancelled before it ran: its first run fails, a retry of it runs once more.
    await failed.refresh();
    expect(failed.snapshot).toMatchObject({
      status: SUCCESSFUL,
      attempts: 2,
      maxAttempts: 2,
      returnValue: 'ran failed-once',
      errors: [
        expect.objectContaining({ message: 'first run of failed-once' }),
      ],
    });
    await cancelled.refresh();
    expect(cancelled.snapshot).toMatchObject({ status: FAILED, attempts: 1 });
    expect(runs.get('cancelled')).toBe(1);
    expect((await admin.retry(cancelled.id)).result.maxAttempts).toBe(2);
    await work();
    await cancelled.refresh();
    expect(cancelled.snapshot).toMatchObject({
      status: SUCCESSFUL,
      attempts: 2,
    });
    expect(cancelled.errors).toHaveLength(1);
  });

  it('runs a result retried twice at once only once', async () => {
    const flaky = queue.task(FlakyTasks, 'flaky').using({ queueName: 'flaky' });
    const result = await flaky.enqueue('twice');
    await work();
    await result.refresh();
    expect(result.status).toBe(FAILED);
    const outcomes = await Promise.allSettled([
      admin.retry(result.id),
      admin.retry(result.id),
      admin.retryMatching({ id: result.id }),
    ]);
    // One retried it; the others found it READY (or taken) already.
    const retried = outcomes.filter(
      (o) => o.status === 'fulfilled' && o.value !== 0,
    );
    expect(retried).toHaveLength(1);
    for (const outcome of outcomes)
      if (outcome.status === 'rejected')
        expect(outcome.reason).toBeInstanceOf(InvalidTaskError);
    await work();
    await result.refresh();
    expect(result.snapshot).toMatchObject({
      status: SUCCESSFUL,
      attempts: 2,
      maxAttempts: 2,
    });
    expect(moduleRef.get(FlakyTasks).runs.get('twice')).toBe(2);
  });

  it('retries and cancels the results a filter selects, as of when the page was read', async () => {
    const fail = queue.task(MathTasks, 'fail').using({ queueName: 'bulk' });
    await fail.enqueueMany([['a'], ['b'], ['c']]);
    await work();
    const bulk = { queue: 'bulk' };
    expect(await admin.retryMatching(bulk, new Date(0))).toBe(0);
    expect(await admin.retryMatching({ ...bulk, status: READY })).toBe(0);
    expect(await admin.retryMatching({ ...bulk, status: CANCELLED })).toBe(0);
    expect(
      await admin.retryMatching({ ...bulk, status: FAILED }, new Date()),
    ).toBe(3);
    expect(await admin.cancelMatching(bulk, new Date(0))).toBe(0);
    expect(await admin.cancelMatching({ ...bulk, status: RUNNING })).toBe(0);
    expect(await admin.cancelMatching(bulk)).toBe(3);
    expect(
      (await admin.list({ ...bulk, status: CANCELLED, limit: 50 })).results,
    ).toHaveLength(3);
    expect(await admin.cancelMatching({ ...bulk, status: READY })).toBe(0);
    expect(
      await admin.retryMatching({
        ...bulk,
        status: CANCELLED,
        taskName: 'MathTasks.fail',
      }),
    ).toBe(3);
    expect(await admin.cancelMatching({ ...bulk, status: READY })).toBe(3);
    expect(await admin.retryMatching(bulk)).toBe(3);
    await work();
    const failed = await admin.list({ ...bulk, status: FAILED, limit: 50 });
    // Each retry allowed one attempt more; the cancels took none.
    expect(failed.results.map((r) => r.attempts)).toEqual([2, 2, 2]);
    expect(failed.results.map((r) => r.maxAttempts)).toEqual([2, 2, 2]);
    expect(failed.results.map((r) => r.errors.length)).toEqual([2, 2, 2]);
  });

  it('refuses to retry a unique result while another holds its key', async () => {
    const unique = queue
      .task(FlakyTasks, 'flaky')
      .using({ uniqueKey: 'held', queueName: 'flaky' });
    const failed = await unique.enqueue('unique-first');
    await work();
    await failed.refresh();
    expect(failed.status).toBe(FAILED);
    const holder = await unique
      .using({ runAfter: new Date(Date.now() + HOUR) })
      .enqueue('unique-second');
    expect(holder.id).not.toBe(failed.id);
    await expect(admin.retry(failed.id)).rejects.toThrow(
      /another READY or RUNNING result holds its unique key "held"/,
    );
    expect(await admin.retryMatching({ queue: 'flaky', status: FAILED })).toBe(
      0,
    );
    await queue.cancel(holder.id);
    expect((await admin.retry(failed.id)).result.status).toBe(READY);
    // The retried result holds the key again.
    const third = await unique.enqueue('unique-third');
    expect(third.id).toBe(failed.id);
  });

  it('searches a bounded number of jobs for a task, and goes on from where it stopped', async () => {
    const scan = queue.task(MathTasks, 'add').using({ queueName: 'scan' });
    const rare = await queue
      .task(MathTasks, 'multiply')
      .using({ queueName: 'scan', runAfter: new Date(Date.now() + HOUR) })
      .enqueue(7, 7);
    await scan
      .using({ runAfter: new Date(Date.now() + 2 * HOUR) })
      .enqueueMany(
        Array.from({ length: SEARCH_BOUND + 5 }, (_, i) => [i, i] as const),
      );
    for (const filter of [
      { queue: 'scan', taskName: 'MathTasks.multiply' },
      { taskName: 'MathTasks.multiply', status: READY },
    ]) {
      const first = await admin.list({ ...filter, limit: 10 });
      expect(first).toEqual({
        results: [],
        next: expect.any(String),
        stoppedAfter: SEARCH_BOUND,
        order: expect.any(String),
      });
      const second = await admin.list({
        ...filter,
        limit: 10,
        after: first.next!,
      });
      expect(second).toEqual({
        results: [expect.objectContaining({ id: rare.id })],
        next: null,
        order: expect.any(String),
      });
    }
    const found = await admin.list({ queue: 'scan', status: READY, limit: 3 });
    expect(found.results).toHaveLength(3);
    expect(found.stoppedAfter).toBeUndefined();
  });
});

describeWithRedis(
  'ResultsAdmin on BullMQBackend: damaged jobs and bulk actions',
  () => {
    const prefix = uniqueRedisPrefix('results_damaged');
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let admin: ResultsAdmin;
    const redis = new Redis(TEST_REDIS);

    beforeAll(async () => {
      moduleRef = await bootBullMQApp({ prefix, providers: [FlakyTasks] });
      queue = moduleRef.get(TaskQueue);
      admin = queue.backend().admin()!.results!;
    });

    afterAll(async () => {
      await moduleRef?.close();
      redis.disconnect();
      await deleteRedisPrefix(prefix);
    });

    /** A FAILED result of `flaky` in `queueName`, and its job's key. */
    async function failedJob(queueName: string, key: string) {
      const result = await queue
        .task(FlakyTasks, 'flaky')
        .using({ queueName })
        .enqueue(key);
      await batchWorker(moduleRef, { queues: [queueName] }).run();
      expect((await queue.getResult(result.id)).status).toBe(FAILED);
      return { id: result.id, jobKey: `${prefix}:${queueName}:${result.id}` };
    }

    it('refuses to retry a job whose stored data is damaged, and leaves it as it was', async () => {
      const { id, jobKey } = await failedJob('damaged', 'd1');
      const data = JSON.parse((await redis.hget(jobKey, 'data'))!);
      data.args = 'damaged';
      const damaged = JSON.stringify(data);
      await redis.hset(jobKey, 'data', damaged);
      await expect(admin.retry(id)).rejects.toThrow(
        /cannot be retried, its stored state being damaged: .*'args' is "damaged"/,
      );
      expect(await admin.retryMatching({ queue: 'damaged' })).toBe(0);
      await batchWorker(moduleRef, { queues: ['damaged'] }).run();
      expect(moduleRef.get(FlakyTasks).runs.get('d1')).toBe(1);
      expect(await redis.hget(jobKey, 'data')).toBe(damaged);
    });

    it('reads a job whose data is not JSON as a damaged FAILED result, in a list, on its own and through getResult', async () => {
      const { id, jobKey } = await failedJob('notjson', 'n1');
      await redis.hset(jobKey, 'data', '{not json');
      const listed = await admin.list({ queue: 'notjson', limit: 5 });
      expect(listed.results.map((result) => result.id)).toEqual([id]);
      await expect(admin.find(id)).resolves.toMatchObject({
        id,
        status: FAILED,
      });
      expect((await queue.getResult(id)).status).toBe(FAILED);
      await expect(admin.retry(id)).rejects.toThrow(InvalidTaskError);
    });

    it('keeps the listeners on its Redis client within their limit through bulk actions on 1,000 results', async () => {
      const warnings: string[] = [];
      const onWarning = (warning: Error) => {
        if (warning.name === 'MaxListenersExceededWarning')
          warnings.push(warning.message);
      };
      process.on('warning', onWarning);
      try {
        await queue
          .task(FlakyTasks, 'flaky')
          .using({ queueName: 'many' })
          .enqueueMany(Array.from({ length: 1000 }, (_, i) => [`m${i}`]));
        await batchWorker(moduleRef, { queues: ['many'] }).run();
        expect(await admin.retryMatching({ queue: 'many' })).toBe(1000);
        expect(await admin.cancelMatching({ queue: 'many' })).toBe(1000);
        // Warnings are emitted on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    }, 120_000);
  },
);

/** The dashboard, on a BullMQBackend. */
@Injectable()
class DashboardBullMQTasks {
  @Task()
  add(a: number, b: number): number {
    return a + b;
  }
}

describeWithRedis('dashboard on BullMQBackend', () => {
  const prefix = uniqueRedisPrefix('dashboard');
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    @Module({
      imports: [
        TasksModule.forRoot({
          backends: {
            default: {
              backend: BullMQBackend,
              queues: [],
              options: bullmqOptions({ prefix }),
            },
          },
          worker: { concurrency: 2 },
        }),
        TasksDashboardModule.forRoot({ public: true, readOnly: false }),
      ],
      providers: [DashboardBullMQTasks],
    })
    class DashboardBullMQApp {}
    app = await NestFactory.create(DashboardBullMQApp, { logger: false });
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('[::1]', '127.0.0.1') + '/tasks';
  });

  afterAll(async () => {
    await app?.close();
    await deleteRedisPrefix(prefix);
  });

  it('lists, shows and charts BullMQ results', async () => {
    const result = await app
      .get(TaskQueue)
      .enqueue(DashboardBullMQTasks, 'add', 2, 3);
    await waitFor('the task to finish', async () => {
      await result.refresh();
      return result.isFinished;
    });
    for (const path of [
      '',
      '/results',
      `/results?status=SUCCESSFUL&task=${encodeURIComponent('DashboardBullMQTasks.add')}`,
      `/results/${result.id}`,
    ]) {
      const response = await fetch(`${url}${path}`);
      const text = await response.text();
      expect([path, response.status]).toEqual([path, 200]);
      if (path) expect(text).toContain(result.id);
      // BullMQ keeps no enqueue order: the list says how it is ordered instead.
      if (path === '/results')
        expect(text).toContain('RUNNING (most recently started first)');
    }
    for (const path of ['/results?after=nonsense', '/results?task=a%00b']) {
      const response = await fetch(`${url}${path}`);
      expect([path, response.status]).toEqual([path, 400]);
    }
    expect((await fetch(`${url}/results/nope`)).status).toBe(404);
  });
});
