import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  DummyBackend,
  ImmediateBackend,
  TaskResultStatus,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import {
  EventRecorder,
  MathTasks,
  ThrowingListener,
} from '../fixtures/tasks.fixtures.js';

describe('@OnTaskEvent', () => {
  let app: BootedApp | undefined;

  afterEach(async () => {
    jest.restoreAllMocks();
    await app?.close();
    app = undefined;
  });

  describe('with ImmediateBackend', () => {
    beforeEach(async () => {
      app = await bootApp({
        tasks: { backends: { default: { backend: ImmediateBackend } } },
        providers: [MathTasks, EventRecorder],
      });
    });

    it('delivers enqueued, started and finished, in that order, with the result', async () => {
      const result = await app!.tasks.enqueue(MathTasks, 'add', 1, 2);
      const { events } = app!.get(EventRecorder);

      expect(events.map((event) => event.event)).toEqual([
        'enqueued',
        'started',
        'finished',
      ]);
      expect(events.every((event) => event.id === result.id)).toBe(true);
      expect(events.every((event) => event.taskName === 'MathTasks.add')).toBe(
        true,
      );
      expect(events.every((event) => event.isTaskResult)).toBe(true);
    });

    it('shows the status the result had at each moment', async () => {
      await app!.tasks.enqueue(MathTasks, 'add', 1, 2);

      expect(
        app!.get(EventRecorder).events.map((event) => event.status),
      ).toEqual([
        TaskResultStatus.READY,
        TaskResultStatus.RUNNING,
        TaskResultStatus.SUCCESSFUL,
      ]);
    });

    it('delivers finished with a FAILED result when the task throws', async () => {
      const result = await app!.tasks.enqueue(MathTasks, 'fail', 'nope');
      const { events } = app!.get(EventRecorder);

      expect(result.status).toBe(TaskResultStatus.FAILED);
      expect(events.map((event) => `${event.event}:${event.status}`)).toEqual([
        'enqueued:READY',
        'started:RUNNING',
        'finished:FAILED',
      ]);
    });

    it('delivers one set of events per result of enqueueMany', async () => {
      const results = await app!.tasks.task(MathTasks, 'add').enqueueMany([
        [1, 1],
        [2, 2],
      ]);
      const { events } = app!.get(EventRecorder);

      for (const result of results) {
        expect(
          events
            .filter((event) => event.id === result.id)
            .map((event) => event.event),
        ).toEqual(['enqueued', 'started', 'finished']);
      }
      expect(events).toHaveLength(6);
    });

    it('delivers nothing for call(), which bypasses the backend', async () => {
      await app!.tasks.task(MathTasks, 'add').call(1, 2);

      expect(app!.get(EventRecorder).events).toEqual([]);
    });
  });

  describe('with DummyBackend', () => {
    it('delivers only enqueued, since nothing runs', async () => {
      app = await bootApp({
        tasks: { backends: { default: { backend: DummyBackend } } },
        providers: [MathTasks, EventRecorder],
      });

      const result = await app.tasks.enqueue(MathTasks, 'add', 1, 2);

      expect(app.get(EventRecorder).events).toEqual([
        expect.objectContaining({
          event: 'enqueued',
          id: result.id,
          status: TaskResultStatus.READY,
        }),
      ]);
    });
  });

  describe('a throwing listener', () => {
    it('does not break a task run by ImmediateBackend, and is logged', async () => {
      const logged = jest
        .spyOn(Logger.prototype, 'error')
        .mockImplementation(() => undefined);
      app = await bootApp({
        providers: [MathTasks, ThrowingListener, EventRecorder],
      });

      const result = await app.tasks.enqueue(MathTasks, 'add', 2, 2);

      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe(4);
      expect(app.get(ThrowingListener).calls).toBe(3);
      expect(app.get(EventRecorder).events.map((event) => event.event)).toEqual(
        ['enqueued', 'started', 'finished'],
      );
      expect(logged).toHaveBeenCalled();
      expect(
        logged.mock.calls.map((call) => String(call[0])).join('\n'),
      ).toMatch(/finished/);
    });

    it('does not break an enqueue on DummyBackend', async () => {
      jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
      app = await bootApp({
        tasks: { backends: { default: { backend: DummyBackend } } },
        providers: [MathTasks, ThrowingListener],
      });

      const result = await app.tasks.enqueue(MathTasks, 'add', 2, 2);

      expect(result.status).toBe(TaskResultStatus.READY);
      expect(
        (app.tasks.backend() as DummyBackend).results.map(
          (stored) => stored.id,
        ),
      ).toEqual([result.id]);
      expect(app.get(ThrowingListener).calls).toBe(1);
    });
  });
});
