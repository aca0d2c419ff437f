/**
 * A backend written against the public API alone (test/fixtures/
 * memory-queue.backend.ts) is driven unchanged by the `tasks:*` commands:
 * each command boots its own application context, as the `nest-tasks` bin
 * does, and finds the tasks the application enqueued through the backend's
 * WorkerQueue and BackendAdmin.
 */
import {
  Injectable,
  Module,
  type INestApplicationContext,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Task,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultNotReadyError,
  TaskResultStatus,
  TasksModule,
  type AttemptRecord,
  type TaskResult,
  type TaskResultData,
  type WorkerQueue,
} from '../../lib/index.js';
import { runCommand } from '../support/run-command.js';
import {
  dropMemoryStore,
  memoryStore,
  MemoryQueueBackend,
} from '../fixtures/memory-queue.backend.js';

/** Calls of `ReportTasks.flaky` per key, across every application context. */
const flakyCalls = new Map<string, number>();

@Injectable()
class ReportTasks {
  @Task()
  async build(id: number): Promise<{ id: number; pages: number }> {
    return { id, pages: id * 10 };
  }

  @Task({ queueName: 'reports', priority: 5 })
  async explode(reason: string): Promise<void> {
    throw new RangeError(reason);
  }

  /** Fails its first attempt, succeeds on the second, with no delay between. */
  @Task({ queueName: 'reports', maxAttempts: 2, retryDelay: 0 })
  async flaky(key: string): Promise<string> {
    const calls = (flakyCalls.get(key) ?? 0) + 1;
    flakyCalls.set(key, calls);
    if (calls === 1) throw new Error(`first attempt of ${key} fails`);
    return `${key} done on attempt ${calls}`;
  }
}

/** An application whose default backend is the in-memory queue `store`. */
function appModuleFor(store: string, leaseMs?: number): Type<unknown> {
  @Module({
    imports: [
      TasksModule.forRoot({
        backends: {
          default: {
            backend: MemoryQueueBackend,
            queues: ['default', 'reports'],
            options: { name: store, ...(leaseMs ? { leaseMs } : {}) },
          },
        },
      }),
    ],
    providers: [ReportTasks],
  })
  class AppModule {}
  return AppModule;
}

/** The data rows of the QUEUE/STATUS/COUNT table `tasks:status` prints. */
function countRows(output: string): string[][] {
  return output
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(
      (cells) =>
        cells.length === 3 &&
        Object.values(TaskResultStatus).includes(cells[1] as TaskResultStatus),
    );
}

describe('a custom backend written against the public API', () => {
  const store = 'custom-backend-cli';
  const AppModule = appModuleFor(store);
  let app: INestApplicationContext;
  let tasks: TaskQueue;

  beforeAll(async () => {
    app = await NestFactory.createApplicationContext(AppModule, {
      logger: false,
    });
    tasks = app.get(TaskQueue);
  });

  afterAll(async () => {
    await app?.close();
    dropMemoryStore(store);
  });

  it('is run by tasks:work --batch, reported by tasks:status and pruned by tasks:prune', async () => {
    const built = await tasks.enqueue(ReportTasks, 'build', 7);
    const exploded = await tasks.enqueue(ReportTasks, 'explode', 'no paper');
    const flaky = await tasks.enqueue(ReportTasks, 'flaky', 'weekly');
    const later = await tasks
      .task(ReportTasks, 'build')
      .using({ runAfter: new Date(Date.now() + 3_600_000) })
      .enqueue(8);
    const cancelled = await tasks.enqueue(ReportTasks, 'build', 9);
    await tasks.cancel(cancelled.id);

    const work = await runCommand(AppModule, [
      'tasks:work',
      '--batch',
      '--interval',
      '20',
      '--worker-id',
      'memory-worker',
    ]);
    expect(work).toMatchObject({ exitCode: 0 }); // on failure, shows its output

    const buildResult = await tasks.getResult<{ id: number; pages: number }>(
      built.id,
    );
    expect(buildResult.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(buildResult.returnValue).toEqual({ id: 7, pages: 70 });
    expect(buildResult.attempts).toBe(1);
    expect(buildResult.errors).toEqual([]);
    expect(buildResult.workerIds).toEqual(['memory-worker']);
    expect(buildResult.startedAt).toBeInstanceOf(Date);
    expect(buildResult.finishedAt!.getTime()).toBeGreaterThanOrEqual(
      buildResult.startedAt!.getTime(),
    );

    const explodeResult = await tasks.getResult(exploded.id);
    expect(explodeResult.status).toBe(TaskResultStatus.FAILED);
    expect(explodeResult.attempts).toBe(1);
    expect(explodeResult.errors).toEqual([
      expect.objectContaining({
        errorClass: 'RangeError',
        message: 'no paper',
      }),
    ]);
    expect(() => explodeResult.returnValue).toThrow(TaskResultNotReadyError);

    const flakyResult = await tasks.getResult<string>(flaky.id);
    expect(flakyResult.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(flakyResult.attempts).toBe(2);
    expect(flakyResult.returnValue).toBe('weekly done on attempt 2');
    expect(flakyResult.errors).toEqual([
      expect.objectContaining({
        errorClass: 'Error',
        message: 'first attempt of weekly fails',
      }),
    ]);
    expect(flakyResult.workerIds).toEqual(['memory-worker', 'memory-worker']);

    // Deferred an hour: the batch worker left it alone.
    await later.refresh();
    expect(later.status).toBe(TaskResultStatus.READY);
    expect(later.attempts).toBe(0);

    const status = await runCommand(AppModule, ['tasks:status']);
    expect(status.exitCode).toBe(0);
    expect(status.output).toContain('MemoryQueueBackend');
    expect(countRows(status.output)).toEqual([
      ['default', 'CANCELLED', '1'],
      ['default', 'READY', '1'],
      ['default', 'SUCCESSFUL', '1'],
      ['reports', 'FAILED', '1'],
      ['reports', 'SUCCESSFUL', '1'],
    ]);

    const dryRun = await runCommand(AppModule, [
      'tasks:prune',
      '--older-than',
      '0ms',
      '--dry-run',
    ]);
    expect(dryRun.exitCode).toBe(0);
    expect(dryRun.output).toContain(
      'Would delete 4 result(s) (SUCCESSFUL, FAILED, CANCELLED).',
    );
    await expect(tasks.getResult(built.id)).resolves.toBeDefined();

    const prune = await runCommand(AppModule, [
      'tasks:prune',
      '--older-than',
      '0ms',
    ]);
    expect(prune.exitCode).toBe(0);
    expect(prune.output).toContain(
      'Deleted 4 result(s) (SUCCESSFUL, FAILED, CANCELLED).',
    );
    for (const id of [built.id, exploded.id, flaky.id, cancelled.id]) {
      await expect(tasks.getResult(id)).rejects.toThrow(
        TaskResultDoesNotExistError,
      );
    }
    await expect(tasks.getResult(later.id)).resolves.toMatchObject({
      status: TaskResultStatus.READY,
    });

    const after = await runCommand(AppModule, ['tasks:status']);
    expect(countRows(after.output)).toEqual([['default', 'READY', '1']]);
  });

  it('lists the workers that are registered and heartbeating in tasks:status', async () => {
    const queue = tasks.backend().workerQueue()!;
    await queue.registerWorker({
      workerId: 'listed-worker',
      queues: ['reports'],
      concurrency: 3,
    });
    try {
      const status = await runCommand(AppModule, ['tasks:status']);
      const row = status.output
        .split('\n')
        .find((line) => line.startsWith('listed-worker'));
      expect(row?.split(/\s+/)).toEqual([
        'listed-worker',
        expect.any(String),
        String(process.pid),
        'reports',
        '3',
        expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      ]);
    } finally {
      await queue.unregisterWorker('listed-worker');
    }
    const status = await runCommand(AppModule, ['tasks:status']);
    expect(status.output).not.toContain('listed-worker');
  });
});

describe('the in-memory WorkerQueue keeps the worker contract', () => {
  const store = 'custom-backend-contract';
  const LEASE_MS = 200;
  let app: INestApplicationContext;
  let tasks: TaskQueue;
  let queue: WorkerQueue;

  beforeAll(async () => {
    app = await NestFactory.createApplicationContext(
      appModuleFor(store, LEASE_MS),
      { logger: false },
    );
    tasks = app.get(TaskQueue);
    queue = tasks.backend().workerQueue()!;
  });

  afterEach(() => memoryStore(store).tasks.clear());

  afterAll(async () => {
    await app?.close();
    dropMemoryStore(store);
  });

  const sleep = (ms: number) =>
    new Promise((resolve) => setTimeout(resolve, ms));

  /** The stored state of a claimed result, from its public fields. */
  const dataOf = (result: TaskResult<any>): TaskResultData => ({
    id: result.id,
    taskName: result.task.name,
    backend: result.backend,
    queueName: result.task.queueName,
    priority: result.task.priority,
    args: result.args,
    status: result.status,
    runAfter: result.task.runAfter,
    enqueuedAt: result.enqueuedAt,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    lastAttemptedAt: result.lastAttemptedAt,
    attempts: result.attempts,
    maxAttempts: result.task.maxAttempts,
    workerIds: result.workerIds,
    errors: result.errors,
    returnValue: null,
    progress: result.progress,
    metadata: result.metadata,
    uniqueKey: result.task.uniqueKey,
  });

  /** What a worker records when attempt `attempt` of `result` ends. */
  const record = (
    result: TaskResult<any>,
    workerId: string,
    attempt: number,
    outcome: Partial<TaskResultData>,
    retryAt: Date | null = null,
  ): AttemptRecord => ({
    data: { ...dataOf(result), ...outcome },
    workerId,
    attempt,
    retryAt,
  });

  it('claims by priority, then in enqueue order, and only from the queues asked for', async () => {
    const first = await tasks.enqueue(ReportTasks, 'build', 1);
    const urgent = await tasks.enqueue(ReportTasks, 'explode', 'urgent');
    const second = await tasks.enqueue(ReportTasks, 'build', 2);

    const fromDefault = await queue.claim('w1', ['default'], 10);
    expect(fromDefault.map((claimed) => claimed.result.id)).toEqual([
      first.id,
      second.id,
    ]);
    const rest = await queue.claim('w1', null, 10);
    expect(rest.map((claimed) => claimed.result.id)).toEqual([urgent.id]);
    expect(rest[0].result).toMatchObject({
      status: TaskResultStatus.RUNNING,
      attempts: 1,
      workerIds: ['w1'],
    });
    expect(await queue.claim('w1', null, 10)).toEqual([]);
  });

  it('writes an outcome only while the same worker holds the same attempt', async () => {
    await tasks.enqueue(ReportTasks, 'build', 3);
    const [claimed] = await queue.claim('w2', null, 1);
    const outcome = (workerId: string, attempt: number) =>
      record(claimed.result, workerId, attempt, {
        status: TaskResultStatus.SUCCESSFUL,
        finishedAt: new Date(),
        returnValue: { id: 3, pages: 30 },
      });

    const id = claimed.result.id;
    expect(await queue.complete([outcome('someone-else', 1)])).toEqual([]);
    expect(await queue.complete([outcome('w2', 2)])).toEqual([]);
    expect(await queue.complete([outcome('w2', 1)])).toEqual([id]);
    expect(await queue.complete([outcome('w2', 1)])).toEqual([]);
    const result = await tasks.getResult(claimed.result.id);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toEqual({ id: 3, pages: 30 });
  });

  it('keeps a heartbeating worker’s lease and rescues an expired one, honouring the retry delay', async () => {
    const flaky = await tasks.enqueue(ReportTasks, 'flaky', 'rescued');
    const once = await tasks.enqueue(ReportTasks, 'explode', 'abandoned');
    const claimed = await queue.claim('w3', ['reports'], 10);
    expect(claimed).toHaveLength(2);

    // Without the heartbeat, the leases would have run out by the check.
    await sleep(LEASE_MS * 0.6);
    const held = claimed.map(({ result }) => ({
      id: result.id,
      attempt: result.attempts,
    }));
    expect(await queue.heartbeat('w3', held)).toEqual([]);
    await sleep(LEASE_MS * 0.6);
    expect(await queue.rescueExpired('w4')).toBe(0);

    await sleep(LEASE_MS * 2);
    expect(await queue.rescueExpired('w3')).toBe(0);
    expect(await queue.rescueExpired('w4')).toBe(2);
    expect(await queue.heartbeat('w3', held)).toEqual(
      held.map((task) => task.id),
    );

    const retried = await tasks.getResult(flaky.id);
    expect(retried.status).toBe(TaskResultStatus.READY);
    expect(retried.errors.map((error) => error.errorClass)).toEqual([
      'TaskInterruptedError',
    ]);
    const failed = await tasks.getResult(once.id);
    expect(failed.status).toBe(TaskResultStatus.FAILED);
    expect(failed.errors.map((error) => error.errorClass)).toEqual([
      'TaskInterruptedError',
    ]);

    // The presumed-dead worker can no longer record its attempt.
    const flakyClaim = claimed.find((c) => c.result.id === flaky.id)!;
    const late = record(flakyClaim.result, 'w3', 1, {
      status: TaskResultStatus.SUCCESSFUL,
      finishedAt: new Date(),
      returnValue: 'too late',
    });
    expect(await queue.complete([late])).toEqual([]);

    // retryDelay 0: claimable again at once, as attempt 2.
    const [again] = await queue.claim('w4', ['reports'], 10);
    expect(again.result).toMatchObject({
      id: flaky.id,
      attempts: 2,
      workerIds: ['w3', 'w4'],
    });
  });

  it('holds a READY retry until its retryAt', async () => {
    const built = await tasks.enqueue(ReportTasks, 'build', 4);
    const [claimed] = await queue.claim('w5', ['default'], 1);
    expect(claimed.result.id).toBe(built.id);
    const retryAt = new Date(Date.now() + 60);
    const retry = record(
      claimed.result,
      'w5',
      1,
      {
        status: TaskResultStatus.READY,
        errors: [{ errorClass: 'Error', message: 'again', traceback: '' }],
      },
      retryAt,
    );
    expect(await queue.complete([retry])).toHaveLength(1);
    expect(await queue.claim('w5', ['default'], 1)).toEqual([]);
    await sleep(80);
    const [again] = await queue.claim('w5', ['default'], 1);
    expect(again.result).toMatchObject({ id: built.id, attempts: 2 });
  });
});
