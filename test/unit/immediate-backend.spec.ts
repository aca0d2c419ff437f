import {
  DummyBackend,
  ImmediateBackend,
  InvalidTaskBackendError,
  TaskResultNotReadyError,
  TaskResultStatus,
  TasksError,
  TasksModule,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { immediateWithDummy } from '../fixtures/backend-configs.js';
import {
  ContextTasks,
  FlakyTasks,
  MathTasks,
  PriorityTasks,
} from '../fixtures/tasks.fixtures.js';

function expectOrdered(...dates: (Date | null)[]): void {
  for (const date of dates) expect(date).toBeInstanceOf(Date);
  for (let i = 1; i < dates.length; i++) {
    expect(dates[i]!.getTime()).toBeGreaterThanOrEqual(dates[i - 1]!.getTime());
  }
}

describe('ImmediateBackend', () => {
  let app: BootedApp;

  beforeEach(async () => {
    app = await bootApp({
      tasks: immediateWithDummy,
      providers: [MathTasks, ContextTasks, PriorityTasks, FlakyTasks],
    });
  });

  afterEach(async () => {
    await app.close();
  });

  it('is the backend configured under the alias, and knows its alias', () => {
    const backend = app.tasks.backend('default');
    expect(backend).toBeInstanceOf(ImmediateBackend);
    expect(backend.alias).toBe('default');
    expect(app.tasks.backend()).toBe(backend);
    expect(app.tasks.backend('dummy')).toBeInstanceOf(DummyBackend);
    expect(app.tasks.backend('dummy')).not.toBe(backend);
  });

  it('declares that it cannot defer tasks nor look results up', () => {
    const backend = app.tasks.backend();
    expect(backend.supportsDefer).toBe(false);
    expect(backend.supportsGetResult).toBe(false);
  });

  it('runs the task during enqueue and returns a SUCCESSFUL, finished result', async () => {
    const math = app.get(MathTasks);
    const result = await app.tasks.enqueue(MathTasks, 'add', 2, 3);

    expect(math.calls).toEqual(['add(2,3)']);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.isFinished).toBe(true);
    expect(result.returnValue).toBe(5);
    expect(result.args).toEqual([2, 3]);
    expect(result.task.name).toBe('MathTasks.add');
    expect(result.backend).toBe('default');
    expect(result.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    );
  });

  it('records enqueue, start, attempt and finish times in order', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 1);

    expectOrdered(result.enqueuedAt, result.startedAt, result.finishedAt);
    expectOrdered(result.startedAt, result.lastAttemptedAt, result.finishedAt);
  });

  it('counts exactly one attempt by one worker, with no errors', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 1);

    expect(result.attempts).toBe(1);
    expect(result.workerIds).toHaveLength(1);
    expect(typeof result.workerIds[0]).toBe('string');
    expect(result.workerIds[0].length).toBeGreaterThan(0);
    expect(result.errors).toEqual([]);
  });

  it('uses one worker id for every task it runs', async () => {
    const first = await app.tasks.enqueue(MathTasks, 'add', 1, 1);
    const second = await app.tasks.enqueue(MathTasks, 'multiply', 2, 2);

    expect(second.workerIds).toEqual(first.workerIds);
    expect(second.id).not.toBe(first.id);
  });

  it('awaits async task methods and stores their resolved value', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'multiply', 6, 7);

    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe(42);
  });

  it('records a thrown error as a FAILED result instead of rejecting the enqueue', async () => {
    const result = await app.tasks.enqueue(
      MathTasks,
      'fail',
      'the disk is full',
    );

    expect(result.status).toBe(TaskResultStatus.FAILED);
    expect(result.isFinished).toBe(true);
    expect(result.attempts).toBe(1);
    expect(result.workerIds).toHaveLength(1);
    expectOrdered(result.enqueuedAt, result.startedAt, result.finishedAt);
    expect(result.lastAttemptedAt).toBeInstanceOf(Date);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].errorClass).toBe('MyCustomError');
    expect(result.errors[0].message).toBe('the disk is full');
    expect(result.errors[0].traceback).toContain('the disk is full');
    expect(result.args).toEqual(['the disk is full']);
  });

  it('refuses to hand out the return value of a FAILED result', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'fail', 'boom');

    expect(() => result.returnValue).toThrow(TaskResultNotReadyError);
    expect(() => result.returnValue).toThrow(TasksError);
  });

  it('fails the attempt with a clear error when the return value cannot be stored', async () => {
    const math = app.get(MathTasks);
    const result = await app.tasks.enqueue(MathTasks, 'returnsDate');

    expect(math.calls).toEqual(['returnsDate']);
    expect(result.status).toBe(TaskResultStatus.FAILED);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].errorClass).not.toBe('');
    expect(result.errors[0].message).toMatch(/Date/);
    expect(result.errors[0].message).toMatch(/MathTasks\.returnsDate/);
    expect(() => result.returnValue).toThrow(TaskResultNotReadyError);
  });

  it('cannot look results up: getResult rejects with a library error', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    await expect(app.tasks.backend().getResult(result.id)).rejects.toThrow(
      TasksError,
    );
    await expect(app.tasks.getResult(result.id)).rejects.toThrow(TasksError);
  });

  it('cannot cancel: its results have finished when enqueue returns', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    await expect(app.tasks.cancel(result.id)).rejects.toThrow(
      InvalidTaskBackendError,
    );
    await expect(app.tasks.cancel(result.id)).rejects.toThrow(
      /ImmediateBackend/,
    );
  });

  it('cannot refresh a result', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    await expect(result.refresh()).rejects.toThrow(TasksError);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
  });

  it('gives takesContext tasks a context for attempt 1 bound to the result', async () => {
    const result = await app.tasks.enqueue(ContextTasks, 'inspect', 'label-1');

    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue.attempt).toBe(1);
    expect(result.returnValue.resultId).toBe(result.id);
    expect(result.returnValue.label).toBe('label-1');
    expect(result.args).toEqual(['label-1']);
  });

  it('keeps progress and metadata saved through ctx.setProgress on the result', async () => {
    const result = await app.tasks.enqueue(ContextTasks, 'inspect', 'label-2');

    expect(result.progress).toBe(0.5);
    expect(result.metadata).toEqual(expect.objectContaining({ step: 'x' }));
    expect(result.returnValue.sawMetadataStep).toBe('x');
  });

  it('retries a failing attempt up to maxAttempts and records each failure', async () => {
    const result = await app.tasks.enqueue(FlakyTasks, 'flaky', 2);

    expect(app.get(FlakyTasks).attemptsSeen).toEqual([1, 2, 3]);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe(3);
    expect(result.attempts).toBe(3);
    expect(result.errors.map((error) => error.message)).toEqual([
      'attempt 1 failed',
      'attempt 2 failed',
    ]);
    expect(
      result.errors.every((error) => error.errorClass === 'MyCustomError'),
    ).toBe(true);
  });

  it('ends FAILED once every attempt has failed', async () => {
    const result = await app.tasks.enqueue(FlakyTasks, 'flaky', 10);

    expect(app.get(FlakyTasks).attemptsSeen).toEqual([1, 2, 3]);
    expect(result.status).toBe(TaskResultStatus.FAILED);
    expect(result.attempts).toBe(3);
    expect(result.errors).toHaveLength(3);
    expectOrdered(result.startedAt, result.lastAttemptedAt, result.finishedAt);
  });

  it('leaves progress empty for tasks that never report it', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    expect(result.progress).toBeNull();
    expect(result.metadata).toEqual({});
  });

  it('accepts tasks with a priority and on any listed queue, and runs them at once', async () => {
    const result = await app.tasks.enqueue(
      PriorityTasks,
      'sendEmail',
      'ada@example.test',
    );

    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe('sent to ada@example.test');
    expect(result.task.priority).toBe(10);
    expect(result.task.queueName).toBe('emails');
  });

  it('runs each entry of enqueueMany and returns one finished result per argument list', async () => {
    const results = await app.tasks.task(MathTasks, 'add').enqueueMany([
      [1, 2],
      [10, 20],
      [100, 200],
    ]);

    expect(results.map((result) => result.status)).toEqual([
      TaskResultStatus.SUCCESSFUL,
      TaskResultStatus.SUCCESSFUL,
      TaskResultStatus.SUCCESSFUL,
    ]);
    expect(results.map((result) => result.returnValue)).toEqual([3, 30, 300]);
    expect(new Set(results.map((result) => result.id)).size).toBe(3);
  });

  it('routes a definition to another backend with using({ backend })', async () => {
    const math = app.get(MathTasks);
    const result = await app.tasks
      .task(MathTasks, 'add')
      .using({ backend: 'dummy' })
      .enqueue(4, 4);

    expect(result.backend).toBe('dummy');
    expect(result.status).toBe(TaskResultStatus.READY);
    expect(math.calls).toEqual([]);
  });
});

describe('ImmediateBackend configuration', () => {
  let app: BootedApp | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('is the default when TasksModule.forRoot() gets no backends', async () => {
    app = await bootApp({ providers: [MathTasks] });

    expect(app.tasks.backend()).toBeInstanceOf(ImmediateBackend);
    const result = await app.tasks.enqueue(MathTasks, 'add', 20, 22);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe(42);
  });

  it('accepts any queue name when configured with an empty queue list', async () => {
    app = await bootApp({
      tasks: {
        backends: { default: { backend: ImmediateBackend, queues: [] } },
      },
      providers: [MathTasks],
    });

    const result = await app.tasks
      .task(MathTasks, 'add')
      .using({ queueName: 'anything-goes' })
      .enqueue(1, 2);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.task.queueName).toBe('anything-goes');
  });

  it('is configured through forRootAsync too', async () => {
    app = await bootApp({
      tasksModule: TasksModule.forRootAsync({
        useFactory: async () => ({
          backends: { default: { backend: ImmediateBackend } },
        }),
      }),
      providers: [MathTasks],
    });

    expect(app.tasks.backend()).toBeInstanceOf(ImmediateBackend);
    expect((await app.tasks.enqueue(MathTasks, 'add', 1, 1)).returnValue).toBe(
      2,
    );
  });
});
