import { Injectable } from '@nestjs/common';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  DummyBackend,
  ImmediateBackend,
  Task,
  TaskResultStatus,
} from '../../lib/index.js';
import { activeTaskTracing } from '../../lib/tracing/task-tracing.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import {
  installTestTracing,
  parentSpanId,
  type TestTracing,
} from '../support/tracing.js';

@Injectable()
class TracedTasks {
  @Task({ queueName: 'mail' })
  async send(to: string): Promise<string> {
    return `sent to ${to}`;
  }

  @Task({ maxAttempts: 2, retryDelay: 0 })
  async fail(): Promise<void> {
    throw new RangeError('no such mailbox');
  }
}

/** A backend whose store is down. */
class RefusingBackend extends DummyBackend {
  override async enqueue(): Promise<never> {
    throw new Error('the store is down');
  }
}

const bootTraced = () =>
  bootApp({
    tasks: {
      backends: { default: { backend: ImmediateBackend, queues: [] } },
    },
    providers: [TracedTasks],
  });

/** Spans of enqueues and attempts on the ImmediateBackend, through @opentelemetry/api. */
describe('OpenTelemetry tracing', () => {
  let app: BootedApp;
  let tracing: TestTracing | undefined;

  afterEach(async () => {
    await app?.close();
    await tracing?.uninstall();
    tracing = undefined;
  });

  describe('with a tracer provider registered', () => {
    beforeEach(async () => {
      tracing = installTestTracing();
      app = await bootTraced();
    });

    it('records an enqueue span and a run span, its child in the same trace, with the messaging attributes', async () => {
      const result = await app.tasks.enqueue(TracedTasks, 'send', 'ada');

      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      const enqueue = tracing!.span('enqueue TracedTasks.send');
      const run = tracing!.span('run TracedTasks.send');
      expect(enqueue.kind).toBe(SpanKind.PRODUCER);
      expect(enqueue.attributes).toEqual({
        'messaging.system': 'nestjs-tasks',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'enqueue',
        'messaging.destination.name': 'mail',
        'messaging.message.id': result.id,
        'nestjs_tasks.task.name': 'TracedTasks.send',
        'nestjs_tasks.backend': 'default',
      });
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.attributes).toEqual({
        'messaging.system': 'nestjs-tasks',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'run',
        'messaging.destination.name': 'mail',
        'messaging.message.id': result.id,
        'nestjs_tasks.task.name': 'TracedTasks.send',
        'nestjs_tasks.task.attempt': 1,
        'nestjs_tasks.backend': 'default',
      });
      expect(run.spanContext().traceId).toBe(enqueue.spanContext().traceId);
      expect(parentSpanId(run)).toBe(enqueue.spanContext().spanId);
      expect(run.status.code).toBe(SpanStatusCode.UNSET);
      const { traceId, spanId } = enqueue.spanContext();
      expect(result.metadata.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    });

    it('makes the enqueue span a child of the span active where enqueue is called', async () => {
      await trace
        .getTracer('app')
        .startActiveSpan('GET /signup', (span) =>
          app.tasks
            .enqueue(TracedTasks, 'send', 'ada')
            .finally(() => span.end()),
        );

      const handler = tracing!.span('GET /signup');
      const enqueue = tracing!.span('enqueue TracedTasks.send');
      const run = tracing!.span('run TracedTasks.send');
      expect(parentSpanId(enqueue)).toBe(handler.spanContext().spanId);
      expect(enqueue.spanContext().traceId).toBe(handler.spanContext().traceId);
      expect(run.spanContext().traceId).toBe(handler.spanContext().traceId);
    });

    it('records each failed attempt on its run span: status ERROR and an exception event', async () => {
      const result = await app.tasks.enqueue(TracedTasks, 'fail');

      expect(result.status).toBe(TaskResultStatus.FAILED);
      const runs = tracing!
        .spans()
        .filter((span) => span.name === 'run TracedTasks.fail');
      expect(
        runs.map((run) => run.attributes['nestjs_tasks.task.attempt']),
      ).toEqual([1, 2]);
      for (const run of runs) {
        expect(run.status).toEqual({
          code: SpanStatusCode.ERROR,
          message: 'no such mailbox',
        });
        expect(run.attributes['error.type']).toBe('RangeError');
        expect(run.events).toHaveLength(1);
        expect(run.events[0].name).toBe('exception');
        expect(run.events[0].attributes).toMatchObject({
          'exception.type': 'RangeError',
          'exception.message': 'no such mailbox',
          'exception.stacktrace': expect.stringContaining('no such mailbox'),
        });
      }
      const enqueue = tracing!.span('enqueue TracedTasks.fail');
      expect(enqueue.status.code).toBe(SpanStatusCode.UNSET);
    });

    it('records a failed enqueue on the enqueue span', async () => {
      await app.close();
      app = await bootApp({
        tasks: {
          backends: { default: { backend: RefusingBackend, queues: [] } },
        },
        providers: [TracedTasks],
      });

      await expect(
        app.tasks.enqueue(TracedTasks, 'send', 'ada'),
      ).rejects.toThrow('the store is down');
      const enqueue = tracing!.span('enqueue TracedTasks.send');
      expect(enqueue.status).toEqual({
        code: SpanStatusCode.ERROR,
        message: 'the store is down',
      });
      expect(enqueue.events.map((event) => event.name)).toEqual(['exception']);
    });

    it('carries one enqueue span for a batch, its context in every task', async () => {
      const results = await app.tasks
        .task(TracedTasks, 'send')
        .enqueueMany([['ada'], ['grace']]);

      const enqueue = tracing!.span('enqueue TracedTasks.send');
      expect(enqueue.attributes['messaging.batch.message_count']).toBe(2);
      expect(enqueue.attributes['messaging.message.id']).toBeUndefined();
      const runs = tracing!
        .spans()
        .filter((span) => span.name === 'run TracedTasks.send');
      expect(runs.map((run) => run.attributes['messaging.message.id'])).toEqual(
        results.map((result) => result.id),
      );
      for (const run of runs)
        expect(parentSpanId(run)).toBe(enqueue.spanContext().spanId);
    });
  });

  describe('with no tracer provider registered', () => {
    beforeEach(async () => {
      app = await bootTraced();
    });

    it('is off: runs tasks, records nothing and stores no trace context', async () => {
      expect(activeTaskTracing()).toBeNull();
      const result = await app.tasks.enqueue(TracedTasks, 'send', 'ada');
      const failed = await app.tasks.enqueue(TracedTasks, 'fail');

      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(failed.status).toBe(TaskResultStatus.FAILED);
      expect(result.metadata).toEqual({});
      expect(failed.metadata).toEqual({});
    });

    it('turns on when the application registers a provider after start-up', async () => {
      tracing = installTestTracing();
      await app.tasks.enqueue(TracedTasks, 'send', 'ada');

      expect(tracing.spans().map((span) => span.name)).toEqual([
        'run TracedTasks.send',
        'enqueue TracedTasks.send',
      ]);
    });
  });
});
