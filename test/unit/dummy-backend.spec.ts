import {
  DummyBackend,
  TaskResultDoesNotExistError,
  TaskResultNotReadyError,
  TaskResultStatus,
  TasksError,
  TasksModule,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { MathTasks, PriorityTasks } from '../fixtures/tasks.fixtures.js';

function dummyOf(app: BootedApp, alias = 'default'): DummyBackend {
  const backend = app.tasks.backend(alias);
  expect(backend).toBeInstanceOf(DummyBackend);
  return backend as DummyBackend;
}

describe('DummyBackend', () => {
  let app: BootedApp;
  let backend: DummyBackend;

  beforeEach(async () => {
    app = await bootApp({
      tasks: {
        backends: {
          default: { backend: DummyBackend, queues: ['default', 'emails'] },
          other: { backend: DummyBackend },
        },
      },
      providers: [MathTasks, PriorityTasks],
    });
    backend = dummyOf(app);
  });

  afterEach(async () => {
    await app.close();
  });

  it('is the backend configured under its alias, one instance per alias', () => {
    expect(backend.alias).toBe('default');
    expect(app.tasks.backend()).toBe(backend);
    const other = dummyOf(app, 'other');
    expect(other).not.toBe(backend);
    expect(other.alias).toBe('other');
  });

  it('supports defer, priority and looking results up', () => {
    expect(backend.supportsDefer).toBe(true);
    expect(backend.supportsPriority).toBe(true);
    expect(backend.supportsGetResult).toBe(true);
  });

  it('stores a READY result and runs nothing', async () => {
    const math = app.get(MathTasks);
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    expect(math.calls).toEqual([]);
    expect(result.status).toBe(TaskResultStatus.READY);
    expect(result.isFinished).toBe(false);
    expect(result.enqueuedAt).toBeInstanceOf(Date);
    expect(result.startedAt).toBeNull();
    expect(result.finishedAt).toBeNull();
    expect(result.lastAttemptedAt).toBeNull();
    expect(result.attempts).toBe(0);
    expect(result.workerIds).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(result.args).toEqual([1, 2]);
    expect(result.task.name).toBe('MathTasks.add');
    expect(result.backend).toBe('default');
  });

  it('stores a copy of the arguments, unaffected by later changes to them', async () => {
    const payload = { tags: ['a'], owner: { id: 1 } };
    const result = await app.tasks.enqueue(MathTasks, 'accept', payload);

    payload.tags.push('b');
    payload.owner.id = 2;

    expect((await app.tasks.getResult(result.id)).args).toEqual([
      { tags: ['a'], owner: { id: 1 } },
    ]);
  });

  it('refuses the return value of a result that has not run', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    expect(() => result.returnValue).toThrow(TaskResultNotReadyError);
  });

  it('keeps every enqueued result in `results`, in enqueue order', async () => {
    const first = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
    const second = await app.tasks.enqueue(MathTasks, 'multiply', 3, 4);

    expect(backend.results.map((result) => result.id)).toEqual([
      first.id,
      second.id,
    ]);
    expect(backend.results.map((result) => result.status)).toEqual([
      TaskResultStatus.READY,
      TaskResultStatus.READY,
    ]);
  });

  it('keeps results per backend alias', async () => {
    const result = await app.tasks
      .task(MathTasks, 'add')
      .using({ backend: 'other' })
      .enqueue(5, 6);

    expect(result.backend).toBe('other');
    expect(backend.results).toHaveLength(0);
    expect(dummyOf(app, 'other').results.map((stored) => stored.id)).toEqual([
      result.id,
    ]);
  });

  it('clear() forgets every stored result', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
    expect(backend.results).toHaveLength(1);

    backend.clear();

    expect(backend.results).toHaveLength(0);
    await expect(app.tasks.getResult(result.id)).rejects.toThrow(
      TaskResultDoesNotExistError,
    );
  });

  it('returns a result with the same id and fields from getResult', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 7, 8);

    const loaded = await backend.getResult(result.id);

    expect(loaded.id).toBe(result.id);
    expect(loaded.status).toBe(result.status);
    expect(loaded.args).toEqual([7, 8]);
    expect(loaded.task.name).toBe('MathTasks.add');
    expect(loaded.enqueuedAt).toEqual(result.enqueuedAt);
    expect(loaded.startedAt).toBeNull();
    expect(loaded.attempts).toBe(0);
    expect(loaded.backend).toBe('default');
  });

  it('is reachable through TaskQueue.getResult with an explicit or the default alias', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 7, 8);

    expect((await app.tasks.getResult(result.id)).id).toBe(result.id);
    expect((await app.tasks.getResult(result.id, 'default')).id).toBe(
      result.id,
    );
    await expect(app.tasks.getResult(result.id, 'other')).rejects.toThrow(
      TaskResultDoesNotExistError,
    );
  });

  it('rejects an unknown id with TaskResultDoesNotExistError naming the id', async () => {
    await expect(
      backend.getResult('00000000-0000-4000-8000-000000000000'),
    ).rejects.toThrow(TaskResultDoesNotExistError);
    await expect(app.tasks.getResult('no-such-id')).rejects.toThrow(
      /no-such-id/,
    );
  });

  it('refresh() reloads the stored state in place', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
    const copy = await app.tasks.getResult(result.id);

    await app.tasks.cancel(result.id);
    await copy.refresh();

    expect(copy.status).toBe(TaskResultStatus.CANCELLED);
    expect(copy.isFinished).toBe(true);
    expect(copy.id).toBe(result.id);
  });

  it('refresh() on an unchanged result keeps every field', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
    const before = {
      id: result.id,
      status: result.status,
      args: [...result.args],
      enqueuedAt: result.enqueuedAt,
      attempts: result.attempts,
    };

    await result.refresh();

    expect({
      id: result.id,
      status: result.status,
      args: result.args,
      enqueuedAt: result.enqueuedAt,
      attempts: result.attempts,
    }).toEqual(before);
  });

  it('stores a deferred result with its runAfter', async () => {
    const later = new Date(Date.now() + 60 * 60 * 1000);
    const definition = app.tasks
      .task(MathTasks, 'add')
      .using({ runAfter: later });

    const result = await definition.enqueue(1, 2);

    expect(definition.runAfter?.getTime()).toBe(later.getTime());
    expect(result.task.runAfter?.getTime()).toBe(later.getTime());
    expect(result.status).toBe(TaskResultStatus.READY);
  });

  it('stores the priority and queue of the task with the result', async () => {
    const result = await app.tasks.enqueue(
      PriorityTasks,
      'sendEmail',
      'ada@example.test',
    );
    const loaded = await app.tasks.getResult(result.id);

    expect(loaded.task.priority).toBe(10);
    expect(loaded.task.queueName).toBe('emails');
    expect(loaded.task.name).toBe('PriorityTasks.sendEmail');
  });

  it('stores one READY result per argument list of enqueueMany', async () => {
    const results = await app.tasks.task(MathTasks, 'add').enqueueMany([
      [1, 2],
      [3, 4],
    ]);

    expect(results).toHaveLength(2);
    expect(results.map((result) => result.args)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(
      results.every((result) => result.status === TaskResultStatus.READY),
    ).toBe(true);
    expect(backend.results.map((result) => result.id)).toEqual(
      results.map((result) => result.id),
    );
    expect(results[0].id).not.toBe(results[1].id);
  });

  it('returns an empty list from enqueueMany([]) and stores nothing', async () => {
    await expect(
      app.tasks.task(MathTasks, 'add').enqueueMany([]),
    ).resolves.toEqual([]);
    expect(backend.results).toHaveLength(0);
  });

  describe('cancel', () => {
    it('turns a READY result into CANCELLED', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

      await app.tasks.cancel(result.id);

      const loaded = await app.tasks.getResult(result.id);
      expect(loaded.status).toBe(TaskResultStatus.CANCELLED);
      expect(loaded.isFinished).toBe(true);
      expect(() => loaded.returnValue).toThrow(TaskResultNotReadyError);
    });

    it('refuses to cancel a result that is already finished', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      await app.tasks.cancel(result.id);

      await expect(app.tasks.cancel(result.id)).rejects.toThrow(TasksError);
      expect((await app.tasks.getResult(result.id)).status).toBe(
        TaskResultStatus.CANCELLED,
      );
    });

    it('rejects an unknown id', async () => {
      await expect(app.tasks.cancel('does-not-exist')).rejects.toThrow(
        TaskResultDoesNotExistError,
      );
    });

    it('cancels on the alias given', async () => {
      const result = await app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'other' })
        .enqueue(1, 2);

      await expect(app.tasks.cancel(result.id)).rejects.toThrow(
        TaskResultDoesNotExistError,
      );
      await app.tasks.cancel(result.id, 'other');

      expect((await app.tasks.getResult(result.id, 'other')).status).toBe(
        TaskResultStatus.CANCELLED,
      );
    });
  });
});

describe('DummyBackend configuration', () => {
  it('is configured through forRootAsync with injected options', async () => {
    const app = await bootApp({
      tasksModule: TasksModule.forRootAsync({
        useFactory: () => ({
          backends: { default: { backend: DummyBackend } },
        }),
      }),
      providers: [MathTasks],
    });
    try {
      expect(app.tasks.backend()).toBeInstanceOf(DummyBackend);
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      expect(result.status).toBe(TaskResultStatus.READY);
    } finally {
      await app.close();
    }
  });
});
