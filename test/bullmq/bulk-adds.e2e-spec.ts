/**
 * BullMQBackend's `enqueueMany`: many jobs added in one Redis call per
 * chunk through BullMQ's own add scripts, the queue listed in the same
 * call; through `Queue.addBulk` where the installed BullMQ keeps those
 * scripts elsewhere.
 */
import 'reflect-metadata';
import { jest } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import {
  InvalidTaskBackendError,
  TaskQueue,
  TaskResultStatus,
} from '../../lib/index.js';
import type { BullMQStore } from '../../lib/backends/bullmq/bullmq-store.js';
import { RedisScripts } from '../../lib/backends/bullmq/redis-scripts.js';
import { newResultData } from '../../lib/task/task-result-data.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import {
  bootBullMQApp,
  bullmqOptions,
  bullmqStoreOf,
} from './bullmq-test-app.js';

/** A BullMQ telemetry that records the name of each span it starts, and traces nothing else. */
function recordingTelemetry(spans: string[]) {
  const context = {};
  return {
    tracer: {
      startSpan: (name: string) => {
        spans.push(name);
        return {
          setAttribute: () => undefined,
          setAttributes: () => undefined,
          addEvent: () => undefined,
          setSpanOnContext: () => context,
          recordException: () => undefined,
          end: () => undefined,
        };
      },
    },
    contextManager: {
      active: () => context,
      with: <T>(_context: unknown, run: () => T) => run(),
      getMetadata: () => '',
      fromMetadata: () => context,
    },
  };
}

describeWithRedis('BullMQBackend bulk adds', () => {
  const prefix = uniqueRedisPrefix('bulk');
  let moduleRef: TestingModule;
  let queue: TaskQueue;
  let tasks: ConformanceTasks;
  let store: BullMQStore;
  let redis: Redis;

  const record = (queueName: string) =>
    queue.task(ConformanceTasks, 'record').using({ queueName });
  const labels = (count: number, from = 0): [string][] =>
    Array.from({ length: count }, (_, i) => [`b${from + i}`]);

  beforeAll(async () => {
    moduleRef = await bootBullMQApp({ prefix, providers: [ConformanceTasks] });
    queue = moduleRef.get(TaskQueue);
    tasks = moduleRef.get(ConformanceTasks);
    store = bullmqStoreOf(queue);
    redis = new Redis(TEST_REDIS);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await deleteRedisPrefix(prefix);
    redis?.disconnect();
  });

  beforeEach(() => tasks.reset());

  it('adds the jobs of a call in chunks, one Redis call each, listed, in order, each run once', async () => {
    const adding = jest.spyOn(RedisScripts, 'addJobs');
    let chunks: number[];
    let results: Awaited<ReturnType<ReturnType<typeof record>['enqueueMany']>>;
    try {
      results = await record('chunked').enqueueMany(labels(600));
    } finally {
      chunks = adding.mock.calls.map(([, , , commands]) => commands.length);
      adding.mockRestore();
    }
    expect(chunks).toEqual([250, 250, 100]);
    expect(new Set(results.map((result) => result.id)).size).toBe(600);
    for (const result of [results[0], results[299], results[599]])
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.READY,
      );
    expect(await store.knownQueues()).toContain('chunked');
    // One slot: the jobs of one priority run in the order they were added.
    await batchWorker(moduleRef, { queues: ['*'], concurrency: 1 }).run();
    expect(tasks.executed).toEqual(labels(600).map(([label]) => label));
  });

  it('adds jobs due later as delayed jobs, each with its own run time', async () => {
    const runAfter = new Date(Date.now() + 3_600_000);
    const later = await record('later')
      .using({ runAfter })
      .enqueueMany(labels(3));
    const counts = await (
      await store.queue('later')
    ).getJobCounts('delayed', 'prioritized');
    expect(counts).toEqual({ delayed: 3, prioritized: 0 });
    for (const result of later) {
      const read = await queue.getResult(result.id);
      expect([read.status, read.snapshot.runAfter?.getTime()]).toEqual([
        TaskResultStatus.READY,
        runAfter.getTime(),
      ]);
    }
    await batchWorker(moduleRef, { queues: ['later'] }).run();
    expect(tasks.executed).toEqual([]);
  });

  it('adds jobs of unlike scripts and priorities in one call, each with its own options (an outbox relay)', async () => {
    const plain = record('unlike');
    const urgent = plain.using({ priority: 5 });
    const later = plain.using({ runAfter: new Date(Date.now() + 3_600_000) });
    const rows = [
      newResultData(plain, ['p1'], null),
      newResultData(later, ['l1'], null),
      newResultData(urgent, ['u1'], null),
      newResultData(plain, ['p2 ✓ ü'], null),
      newResultData(later, ['l2'], null),
      newResultData(urgent, ['u2'], null),
    ];
    const adding = jest.spyOn(RedisScripts, 'addJobs');
    let scripts: string[][];
    try {
      await queue.backend().relay(rows);
    } finally {
      scripts = adding.mock.calls.map(([, , , commands]) =>
        commands.map((command) => command.script),
      );
      adding.mockRestore();
    }
    expect(scripts).toEqual([
      [
        'addPrioritizedJob',
        'addDelayedJob',
        'addPrioritizedJob',
        'addPrioritizedJob',
        'addDelayedJob',
        'addPrioritizedJob',
      ],
    ]);
    expect(
      await (
        await store.queue('unlike')
      ).getJobCounts('delayed', 'prioritized'),
    ).toEqual({ delayed: 2, prioritized: 4 });
    for (const row of rows) {
      const read = await queue.getResult(row.id);
      expect([
        read.args,
        read.snapshot.priority,
        read.snapshot.runAfter,
      ]).toEqual([row.args, row.priority, row.runAfter]);
    }
    await batchWorker(moduleRef, { queues: ['unlike'], concurrency: 1 }).run();
    expect(tasks.executed).toEqual(['u1', 'u2', 'p1', 'p2 ✓ ü']);
  });

  it('lists the queue again with later adds when the list was lost', async () => {
    await record('relisted').enqueueMany(labels(2));
    await redis.del(`${prefix}:~tasks:queues`);
    await record('relisted').enqueueMany(labels(2, 2));
    expect(await redis.hkeys(`${prefix}:~tasks:queues`)).toEqual(['relisted']);
  });

  it('adds through Queue.addBulk when the installed BullMQ keeps its add scripts elsewhere', async () => {
    const setup = store as unknown as {
      addingSetup: () => Promise<{ adds: string[] | null }>;
    };
    const original = setup.addingSetup;
    setup.addingSetup = async function (this: BullMQStore) {
      return { ...(await original.call(this)), adds: null };
    };
    const adding = jest.spyOn(RedisScripts, 'addJobs');
    let calls: number;
    try {
      await record('fallback').enqueueMany(labels(3));
    } finally {
      calls = adding.mock.calls.length;
      adding.mockRestore();
      setup.addingSetup = original;
    }
    expect(calls).toBe(0);
    await batchWorker(moduleRef, { queues: ['fallback'] }).run();
    expect(tasks.executed).toEqual(['b0', 'b1', 'b2']);
  });

  it('fails a call whose adds Redis refused with an error naming why, and adds again once the cause is gone', async () => {
    const kept = await record('refused').enqueue('kept');
    const prioritized = `${prefix}:refused:prioritized`;
    await redis.rename(prioritized, `${prioritized}:aside`);
    await redis.set(prioritized, 'not a sorted set');
    try {
      await expect(record('refused').enqueueMany(labels(2))).rejects.toThrow(
        InvalidTaskBackendError,
      );
      await expect(record('refused').enqueueMany(labels(2))).rejects.toThrow(
        /WRONGTYPE.*\(0 of the 2 jobs were added\)/,
      );
    } finally {
      await redis.del(prioritized);
      await redis.rename(`${prioritized}:aside`, prioritized);
    }
    const added = await record('refused').enqueueMany(labels(2, 2));
    await batchWorker(moduleRef, { queues: ['refused'] }).run();
    expect([...tasks.executed].sort()).toEqual(['b2', 'b3', 'kept']);
    for (const result of [kept, ...added])
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
  });

  it('adds through Queue.add and Queue.addBulk, each traced, when the queues trace with BullMQ telemetry', async () => {
    const spans: string[] = [];
    const traced = await bootTasksApp({
      backends: {
        default: {
          backend: BullMQBackend,
          queues: [],
          options: {
            ...bullmqOptions({ prefix }),
            queueOptions: { telemetry: recordingTelemetry(spans) },
          },
        },
      },
      providers: [ConformanceTasks],
    });
    const adding = jest.spyOn(RedisScripts, 'addJobs');
    let calls: number;
    try {
      const tracedQueue = traced.get(TaskQueue);
      const definition = tracedQueue
        .task(ConformanceTasks, 'record')
        .using({ queueName: 'traced' });
      await definition.enqueue('one');
      await definition.enqueueMany(labels(2));
      // BullMQ names a span by its operation and queue (and job name).
      expect(spans.filter((span) => / traced\b/.test(span))).toEqual([
        `add traced.${definition.name}`,
        'addBulk traced',
      ]);
      await batchWorker(traced, { queues: ['traced'] }).run();
      expect([...traced.get(ConformanceTasks).executed].sort()).toEqual([
        'b0',
        'b1',
        'one',
      ]);
    } finally {
      calls = adding.mock.calls.length;
      adding.mockRestore();
      await traced.close();
    }
    expect(calls).toBe(0);
  });
});
