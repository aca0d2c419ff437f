import {
  DummyBackend,
  InvalidTaskArgumentsError,
  InvalidTaskError,
  TaskResultDoesNotExistError,
  TaskResultMismatchError,
  TaskResultStatus,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { dummyWithInline } from '../fixtures/backend-configs.js';
import {
  ContextTasks,
  MailService,
  MathTasks,
  PriorityTasks,
} from '../fixtures/tasks.fixtures.js';

describe('TaskResultStatus', () => {
  it('is a string enum whose values equal their names', () => {
    expect(Object.entries(TaskResultStatus)).toEqual([
      ['READY', 'READY'],
      ['RUNNING', 'RUNNING'],
      ['SUCCESSFUL', 'SUCCESSFUL'],
      ['FAILED', 'FAILED'],
      ['CANCELLED', 'CANCELLED'],
    ]);
  });
});

describe('TaskDefinition', () => {
  let app: BootedApp;
  let dummy: DummyBackend;

  beforeEach(async () => {
    app = await bootApp({
      tasks: dummyWithInline,
      providers: [MathTasks, ContextTasks, PriorityTasks, MailService],
    });
    dummy = app.tasks.backend() as DummyBackend;
    expect(dummy).toBeInstanceOf(DummyBackend);
  });

  afterEach(async () => {
    await app.close();
  });

  describe('defaults and decorator options', () => {
    it('takes Class.method as name and the documented defaults', () => {
      const add = app.tasks.task(MathTasks, 'add');

      expect(add.name).toBe('MathTasks.add');
      expect(add.priority).toBe(0);
      expect(add.queueName).toBe('default');
      expect(add.backend).toBe('default');
      expect(add.runAfter).toBeNull();
      expect(add.takesContext).toBe(false);
    });

    it('carries the options given to @Task()', () => {
      const sendEmail = app.tasks.task(PriorityTasks, 'sendEmail');
      expect(sendEmail.priority).toBe(10);
      expect(sendEmail.queueName).toBe('emails');

      expect(app.tasks.task(ContextTasks, 'inspect').takesContext).toBe(true);
      expect(app.tasks.task(PriorityTasks, 'buildReport').name).toBe(
        'reports.build',
      );
    });
  });

  describe('immutability', () => {
    it('is frozen', () => {
      const add = app.tasks.task(MathTasks, 'add');

      expect(Object.isFrozen(add)).toBe(true);
      expect(() => {
        (add as unknown as { priority: number }).priority = 99;
      }).toThrow(TypeError);
      expect(add.priority).toBe(0);
    });

    it('using() returns a new definition and leaves the original unchanged', () => {
      const add = app.tasks.task(MathTasks, 'add');

      const urgent = add.using({ priority: 7 });

      expect(urgent).not.toBe(add);
      expect(urgent.priority).toBe(7);
      expect(urgent.name).toBe('MathTasks.add');
      expect(add.priority).toBe(0);
    });

    it('using({}) still returns a distinct but equivalent definition', () => {
      const add = app.tasks.task(MathTasks, 'add');

      const copy = add.using({});

      expect(copy).not.toBe(add);
      expect([
        copy.name,
        copy.priority,
        copy.queueName,
        copy.backend,
        copy.runAfter,
        copy.takesContext,
      ]).toEqual([
        add.name,
        add.priority,
        add.queueName,
        add.backend,
        add.runAfter,
        add.takesContext,
      ]);
    });

    it('changes the queue name only on the copy', () => {
      const add = app.tasks.task(MathTasks, 'add');

      expect(add.using({ queueName: 'emails' }).queueName).toBe('emails');
      expect(add.queueName).toBe('default');
    });

    it('changes runAfter only on the copy', () => {
      const add = app.tasks.task(MathTasks, 'add');
      const at = new Date(Date.now() + 3_600_000);

      expect(add.using({ runAfter: at }).runAfter?.getTime()).toBe(
        at.getTime(),
      );
      expect(add.runAfter).toBeNull();
    });

    it('changes the backend only on the copy', () => {
      const add = app.tasks.task(MathTasks, 'add');

      expect(add.using({ backend: 'inline' }).backend).toBe('inline');
      expect(add.backend).toBe('default');
    });

    it('is not changed by later changes to the Date given to using()', () => {
      const at = new Date(Date.now() + 3_600_000);
      const expected = at.getTime();
      const deferred = app.tasks.task(MathTasks, 'add').using({ runAfter: at });

      at.setTime(0);

      expect(deferred.runAfter?.getTime()).toBe(expected);
    });

    it('is not changed through the runAfter Date it hands out', () => {
      const at = new Date(Date.now() + 3_600_000);
      const deferred = app.tasks.task(MathTasks, 'add').using({ runAfter: at });

      deferred.runAfter?.setTime(0);

      expect(deferred.runAfter?.getTime()).toBe(at.getTime());
    });

    it('keeps earlier changes through chained using() calls', () => {
      const at = new Date(Date.now() + 3_600_000);
      const deferred = app.tasks.task(MathTasks, 'add').using({ runAfter: at });

      const deferredUrgent = deferred.using({ priority: 10 });

      expect(deferredUrgent.priority).toBe(10);
      expect(deferredUrgent.runAfter?.getTime()).toBe(at.getTime());
      expect(deferred.priority).toBe(0);
    });

    it('is not changed by enqueueing through it', async () => {
      const add = app.tasks.task(MathTasks, 'add').using({ priority: 3 });

      const result = await add.enqueue(1, 2);

      expect(result.task.priority).toBe(3);
      expect(add.priority).toBe(3);
      expect(app.tasks.task(MathTasks, 'add').priority).toBe(0);
    });
  });

  describe('enqueue', () => {
    it('enqueues through the definition and through the TaskQueue shorthand alike', async () => {
      const viaDefinition = await app.tasks
        .task(MathTasks, 'add')
        .enqueue(1, 2);
      const viaShorthand = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

      for (const result of [viaDefinition, viaShorthand]) {
        expect(result.status).toBe(TaskResultStatus.READY);
        expect(result.task.name).toBe('MathTasks.add');
        expect(result.args).toEqual([1, 2]);
      }
      expect(viaDefinition.id).not.toBe(viaShorthand.id);
      expect(dummy.results).toHaveLength(2);
    });

    it('enqueues with the options of the definition it was called on', async () => {
      const result = await app.tasks
        .task(MathTasks, 'add')
        .using({ priority: -5, queueName: 'emails' })
        .enqueue(1, 2);

      const loaded = await app.tasks.getResult(result.id);
      expect(loaded.task.priority).toBe(-5);
      expect(loaded.task.queueName).toBe('emails');
    });

    it('runs on the backend chosen with using({ backend })', async () => {
      const result = await app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline' })
        .enqueue(2, 2);

      expect(result.backend).toBe('inline');
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe(4);
      expect(dummy.results).toHaveLength(0);
    });

    it('enqueueMany returns one result per argument list, in order', async () => {
      const results = await app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline' })
        .enqueueMany([
          [1, 1],
          [2, 2],
          [3, 3],
        ]);

      expect(results).toHaveLength(3);
      expect(results.map((result) => result.args)).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
      expect(results.map((result) => result.returnValue)).toEqual([2, 4, 6]);
    });

    it('enqueueMany refuses the whole batch when one argument list is invalid', async () => {
      const add = app.tasks.task(MathTasks, 'accept');

      await expect(add.enqueueMany([[1], [new Date()], [3]])).rejects.toThrow(
        InvalidTaskArgumentsError,
      );
      expect(dummy.results).toHaveLength(0);
    });
    it('stores the metadata given to using() with the result', async () => {
      const result = await app.tasks
        .task(MathTasks, 'add')
        .using({ metadata: { source: 'signup', attempt: 2 } })
        .enqueue(1, 2);

      expect(result.metadata).toEqual({ source: 'signup', attempt: 2 });
      expect((await app.tasks.getResult(result.id)).metadata).toEqual({
        source: 'signup',
        attempt: 2,
      });
    });
  });

  describe('getResult', () => {
    it('returns the result of its own task', async () => {
      const add = app.tasks.task(MathTasks, 'add');
      const result = await add.enqueue(1, 2);

      const loaded = await add.getResult(result.id);

      expect(loaded.id).toBe(result.id);
      expect(loaded.task.name).toBe('MathTasks.add');
    });

    it('rejects a result of another task with TaskResultMismatchError naming both tasks', async () => {
      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);
      const multiply = app.tasks.task(MathTasks, 'multiply');

      await expect(multiply.getResult(result.id)).rejects.toThrow(
        TaskResultMismatchError,
      );
      await expect(multiply.getResult(result.id)).rejects.toThrow(
        /(?=[\s\S]*MathTasks\.add)(?=[\s\S]*MathTasks\.multiply)/,
      );
    });

    it('rejects an unknown id with TaskResultDoesNotExistError', async () => {
      await expect(
        app.tasks.task(MathTasks, 'add').getResult('missing-id'),
      ).rejects.toThrow(TaskResultDoesNotExistError);
    });

    it('looks on the backend of the definition', async () => {
      const result = await app.tasks.task(MathTasks, 'add').enqueue(1, 2);

      const other = app.tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline' });
      await expect(other.getResult(result.id)).rejects.toThrow();
      expect(
        (await app.tasks.task(MathTasks, 'add').getResult(result.id)).id,
      ).toBe(result.id);
    });
  });

  describe('call', () => {
    it('runs the method now and stores nothing', async () => {
      const math = app.get(MathTasks);

      await expect(app.tasks.task(MathTasks, 'add').call(2, 40)).resolves.toBe(
        42,
      );
      await expect(
        app.tasks.task(MathTasks, 'multiply').call(6, 7),
      ).resolves.toBe(42);

      expect(math.calls).toEqual(['add(2,40)', 'multiply(6,7)']);
      expect(dummy.results).toHaveLength(0);
    });

    it('gives a takesContext method a context for attempt 1 and only the caller arguments', async () => {
      const report = await app.tasks
        .task(ContextTasks, 'inspect')
        .call('direct');

      expect(report.attempt).toBe(1);
      expect(report.label).toBe('direct');
      expect(typeof report.resultId).toBe('string');
      expect(dummy.results).toHaveLength(0);
    });

    it('propagates what the method throws', async () => {
      await expect(
        app.tasks.task(MathTasks, 'fail').call('direct failure'),
      ).rejects.toThrow('direct failure');
    });

    it('runs on the provider instance Nest created', async () => {
      const mail = app.get(MailService);

      await expect(
        app.tasks.task(MailService, 'sendWelcome').call(7),
      ).resolves.toEqual({ sent: true });
      expect(mail.sent).toEqual([7]);
    });
  });

  describe('task by registry name', () => {
    it('finds a task by its default name', async () => {
      const add = app.tasks.task<[number, number], number>('MathTasks.add');

      expect(add.name).toBe('MathTasks.add');
      const result = await add.using({ backend: 'inline' }).enqueue(3, 4);
      expect(result.returnValue).toBe(7);
    });

    it('finds a task by its custom name', async () => {
      const build = app.tasks.task<[number], { year: number }>('reports.build');

      await expect(build.call(2024)).resolves.toEqual({ year: 2024 });
    });

    it('gives a definition equivalent to the one found by class and method', () => {
      const byName = app.tasks.task('PriorityTasks.sendEmail');
      const byMethod = app.tasks.task(PriorityTasks, 'sendEmail');

      expect([byName.name, byName.priority, byName.queueName]).toEqual([
        byMethod.name,
        byMethod.priority,
        byMethod.queueName,
      ]);
    });

    it('refuses an unknown name', () => {
      expect(() => app.tasks.task('Nobody.nothing')).toThrow(InvalidTaskError);
    });

    it('refuses a method that is not a task', () => {
      expect(() => app.tasks.task(MathTasks, 'helper')).toThrow(
        /MathTasks\.helper/,
      );
    });
  });
});
