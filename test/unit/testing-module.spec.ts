import { Test } from '@nestjs/testing';
import {
  DummyBackend,
  ImmediateBackend,
  InvalidTaskBackendError,
  TaskResultStatus,
} from '../../lib/index.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import {
  ContextTasks,
  EventRecorder,
  FlakyTasks,
  MathTasks,
  PriorityTasks,
} from '../fixtures/tasks.fixtures.js';

describe('TasksTestingModule', () => {
  let app: BootedApp;
  let tester: TaskQueueTester;

  beforeEach(async () => {
    app = await bootApp({
      tasks: {
        backends: {
          default: { backend: ImmediateBackend, queues: ['default', 'emails'] },
          inline: { backend: ImmediateBackend },
        },
      },
      imports: [TasksTestingModule.forRoot()],
      providers: [
        MathTasks,
        PriorityTasks,
        ContextTasks,
        FlakyTasks,
        EventRecorder,
      ],
    });
    tester = app.get(TaskQueueTester);
  });

  afterEach(async () => {
    await app.close();
  });

  it('swaps every configured backend for a DummyBackend, keeping the aliases', () => {
    expect(app.tasks.backend()).toBeInstanceOf(DummyBackend);
    expect(app.tasks.backend('inline')).toBeInstanceOf(DummyBackend);
    expect(app.tasks.backend('inline').alias).toBe('inline');
    expect(app.tasks.backend('inline')).not.toBe(app.tasks.backend());
  });

  it('keeps the queues each backend was configured with', async () => {
    const result = await app.tasks.enqueue(
      PriorityTasks,
      'sendEmail',
      'ada@example.test',
    );

    expect(result.status).toBe(TaskResultStatus.READY);
    await expect(
      (async () =>
        app.tasks
          .task(PriorityTasks, 'sendEmail')
          .using({ backend: 'inline' })
          .enqueue('x'))(),
    ).rejects.toThrow(/emails/);
  });

  it('enqueues without running anything', async () => {
    const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

    expect(result.status).toBe(TaskResultStatus.READY);
    expect(app.get(MathTasks).calls).toEqual([]);
  });

  describe('TaskQueueTester.enqueued', () => {
    beforeEach(async () => {
      await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      await app.tasks.enqueue(MathTasks, 'multiply', 3, 4);
      await app.tasks.enqueue(PriorityTasks, 'urgent', 'u');
      await app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline' })
        .enqueue(5, 6);
    });

    it('lists everything enqueued on every backend when given nothing', () => {
      const names = tester.enqueued().map((result) => result.task.name);

      expect(names).toHaveLength(4);
      expect([...names].sort()).toEqual([
        'MathTasks.add',
        'MathTasks.add',
        'MathTasks.multiply',
        'PriorityTasks.urgent',
      ]);
    });

    it('filters by class', () => {
      const names = tester
        .enqueued(MathTasks)
        .map((result) => result.task.name);

      expect([...names].sort()).toEqual([
        'MathTasks.add',
        'MathTasks.add',
        'MathTasks.multiply',
      ]);
    });

    it('filters by class and method', () => {
      const added = tester.enqueued(MathTasks, 'add');

      expect(added).toHaveLength(2);
      expect(added.map((result) => result.args)).toEqual(
        expect.arrayContaining([
          [1, 2],
          [5, 6],
        ]),
      );
      expect(tester.enqueued(PriorityTasks, 'background')).toEqual([]);
    });
  });

  describe('TaskQueueTester.runAll', () => {
    it('runs READY results highest priority first, then in enqueue order', async () => {
      const order = app.get(PriorityTasks).order;
      await app.tasks.enqueue(PriorityTasks, 'background', 'b1');
      await app.tasks.enqueue(PriorityTasks, 'buildReport', 2020);
      await app.tasks.enqueue(PriorityTasks, 'urgent', 'u1');
      await app.tasks.enqueue(PriorityTasks, 'sendEmail', 'e1');
      await app.tasks.enqueue(PriorityTasks, 'buildReport', 2021);
      await app.tasks
        .task(PriorityTasks, 'background')
        .using({ priority: 60 })
        .enqueue('b2');

      await tester.runAll();

      expect(order).toEqual([
        'background:b2',
        'urgent:u1',
        'sendEmail:e1',
        'buildReport:2020',
        'buildReport:2021',
        'background:b1',
      ]);
    });

    it('leaves successful results with their return values, readable through getResult', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 20, 22);

      await tester.runAll();
      const loaded = await app.tasks.getResult<number>(result.id);

      expect(loaded.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(loaded.returnValue).toBe(42);
      expect(loaded.attempts).toBe(1);
      expect(loaded.workerIds).toHaveLength(1);
      expect(loaded.startedAt).toBeInstanceOf(Date);
      expect(loaded.finishedAt).toBeInstanceOf(Date);
    });

    it('makes the change visible to refresh() on a result held earlier', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 1);
      const held = await app.tasks.getResult(result.id);
      expect(held.status).toBe(TaskResultStatus.READY);

      await tester.runAll();
      await held.refresh();

      expect(held.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(held.returnValue).toBe(2);
    });

    it('records failures as FAILED results with their error', async () => {
      const result = await app.tasks.enqueue(
        MathTasks,
        'fail',
        'tester failure',
      );

      await tester.runAll();
      const loaded = await app.tasks.getResult(result.id);

      expect(loaded.status).toBe(TaskResultStatus.FAILED);
      expect(loaded.errors).toEqual([
        expect.objectContaining({
          errorClass: 'MyCustomError',
          message: 'tester failure',
        }),
      ]);
    });

    it('runs takesContext tasks with a context and saves their progress', async () => {
      const result = await app.tasks.enqueue(ContextTasks, 'inspect', 'ctx');

      await tester.runAll();
      const loaded = await app.tasks.getResult<{
        attempt: number;
        resultId: string;
      }>(result.id);

      expect(loaded.returnValue.attempt).toBe(1);
      expect(loaded.returnValue.resultId).toBe(result.id);
      expect(loaded.progress).toBe(0.5);
      expect(loaded.metadata).toEqual(expect.objectContaining({ step: 'x' }));
    });

    it('lets getResult see progress saved by a running task', async () => {
      const result = await app.tasks.enqueue(ContextTasks, 'progressProbe');

      await tester.runAll();
      const loaded = await app.tasks.getResult<{
        status: string;
        progress: number;
        stage: string;
      }>(result.id);

      expect(loaded.returnValue).toEqual({
        status: TaskResultStatus.RUNNING,
        progress: 0.25,
        stage: 'one',
      });
    });

    it('skips results that are not READY (a cancelled one never runs)', async () => {
      const cancelled = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      await app.tasks.enqueue(MathTasks, 'multiply', 2, 3);
      await app.tasks.cancel(cancelled.id);

      await tester.runAll();

      expect(app.get(MathTasks).calls).toEqual(['multiply(2,3)']);
      expect((await app.tasks.getResult(cancelled.id)).status).toBe(
        TaskResultStatus.CANCELLED,
      );
    });

    it('aborts the signal of a result cancelled while it runs, which ends CANCELLED, not retried', async () => {
      const result = await app.tasks.enqueue(ContextTasks, 'cancelsItself');

      expect(await tester.runAll()).toHaveLength(1);

      const done = await app.tasks.getResult(result.id);
      expect(done.status).toBe(TaskResultStatus.CANCELLED);
      expect(done.attempts).toBe(1);
      expect(done.finishedAt).toBeInstanceOf(Date);
      expect(done.errors.map((error) => error.errorClass)).toEqual([
        'TaskCancelledError',
      ]);
    });

    it('does not run a result twice', async () => {
      await app.tasks.enqueue(MathTasks, 'add', 1, 2);

      await tester.runAll();
      await tester.runAll();

      expect(app.get(MathTasks).calls).toEqual(['add(1,2)']);
    });

    it('emits started and finished events for what it runs', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

      await tester.runAll();

      const mine = app
        .get(EventRecorder)
        .events.filter((event) => event.id === result.id);
      expect(mine.map((event) => event.event)).toEqual([
        'enqueued',
        'started',
        'finished',
      ]);
    });
  });

  describe('TaskQueueTester.runAll and deferred work', () => {
    it('leaves a result whose runAfter is in the future alone, unless includeDeferred', async () => {
      const later = await app.tasks
        .task(MathTasks, 'add')
        .using({ runAfter: new Date(Date.now() + 60_000) })
        .enqueue(1, 1);
      await app.tasks.enqueue(MathTasks, 'multiply', 2, 2);

      const ran = await tester.runAll();

      expect(ran.map((result) => result.task.name)).toEqual([
        'MathTasks.multiply',
      ]);
      expect((await app.tasks.getResult(later.id)).status).toBe(
        TaskResultStatus.READY,
      );

      await tester.runAll({ includeDeferred: true });

      expect((await app.tasks.getResult(later.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
    });

    it('runs a result whose runAfter has passed', async () => {
      await app.tasks
        .task(MathTasks, 'add')
        .using({ runAfter: new Date(Date.now() - 1000) })
        .enqueue(3, 4);

      await tester.runAll();

      expect(app.get(MathTasks).calls).toEqual(['add(3,4)']);
    });

    it('retries at once when the retry delay is 0, and waits a longer one unless includeDeferred', async () => {
      const now = await app.tasks.enqueue(FlakyTasks, 'flaky', 2);
      await tester.runAll();
      expect((await app.tasks.getResult(now.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );

      const slow = await app.tasks.task(FlakyTasks, 'slowRetry').enqueue('s');
      await tester.runAll();
      const waiting = await app.tasks.getResult(slow.id);
      expect(waiting.status).toBe(TaskResultStatus.READY);
      expect(waiting.attempts).toBe(1);

      await tester.runAll({ includeDeferred: true });
      const done = await app.tasks.getResult(slow.id);
      expect(done.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(done.attempts).toBe(3);
    });
  });

  describe('TaskQueueTester.clear', () => {
    it('forgets every result on every backend', async () => {
      await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      await app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline' })
        .enqueue(1, 2);
      expect(tester.enqueued()).toHaveLength(2);

      tester.clear();

      expect(tester.enqueued()).toEqual([]);
      expect((app.tasks.backend() as DummyBackend).results).toEqual([]);
      await tester.runAll();
      expect(app.get(MathTasks).calls).toEqual([]);
    });
  });
});

describe('TasksTestingModule without a TasksModule', () => {
  it('fails bootstrap saying what to import', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksTestingModule.forRoot()],
    }).compile();
    moduleRef.useLogger(false);
    await expect(moduleRef.init()).rejects.toThrow(InvalidTaskBackendError);
    await expect(moduleRef.init()).rejects.toThrow(/Import TasksModule/);
    await moduleRef.close();
  });
});
