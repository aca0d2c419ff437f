import { Injectable } from '@nestjs/common';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { Task, TaskQueue, TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import {
  installTestTracing,
  parentSpanId,
  type TestTracing,
} from '../support/tracing.js';

@Injectable()
class ReportTasks {
  @Task({ queueName: 'reports' })
  async build(month: string): Promise<string> {
    return `report ${month}`;
  }

  @Task({ maxAttempts: 2, retryDelay: 0 })
  async broken(): Promise<void> {
    throw new TypeError('the template is missing');
  }
}

/**
 * Tracing through a DatabaseBackend: the enqueuing app stores the enqueue
 * span's context with the row; a worker of another app reads it back and
 * runs each attempt in a child span of the same trace.
 */
describe.each(availableDatabases())(
  'OpenTelemetry tracing on $name',
  (db: TestDatabase) => {
    const tableName = uniqueTableName('t_tracing');
    let ds: DataSource;
    let web: TestingModule;
    let worker: TestingModule;
    let tracing: TestTracing;

    beforeAll(async () => {
      ds = await openTestDataSource(db, tableName);
      tracing = installTestTracing();
      web = await bootTasksApp({
        dataSource: ds,
        tableName,
        providers: [ReportTasks],
      });
      worker = await bootTasksApp({
        dataSource: ds,
        tableName,
        providers: [ReportTasks],
      });
    });

    afterAll(async () => {
      try {
        await web?.close();
        await worker?.close();
        await tracing?.uninstall();
      } finally {
        await closeTestDataSource(db, ds, tableName);
      }
    });

    /** Enqueues from a request's span, as an instrumented HTTP handler would. */
    const inRequest = <T>(enqueue: () => Promise<T>): Promise<T> =>
      trace
        .getTracer('app')
        .startActiveSpan('POST /reports', (span) =>
          enqueue().finally(() => span.end()),
        );

    const storedMetadata = async (id: string) => {
      const [row] = await ds.query(
        `SELECT metadata FROM ${tableName} WHERE id = ${db.name === 'postgres' ? '$1' : '?'}`,
        [id],
      );
      return JSON.parse(row.metadata) as Record<string, unknown>;
    };

    it('links the request, the enqueue and the run span by one trace, through the row', async () => {
      const queue = web.get(TaskQueue);
      const enqueued = await inRequest(() =>
        queue.enqueue(ReportTasks, 'build', '2026-11'),
      );
      const request = tracing.span('POST /reports');
      const enqueue = tracing.span('enqueue ReportTasks.build');
      expect(await storedMetadata(enqueued.id)).toEqual({
        traceparent: `00-${enqueue.spanContext().traceId}-${enqueue.spanContext().spanId}-01`,
      });

      expect(await batchWorker(worker).run()).toBe('drained');

      const run = tracing.span('run ReportTasks.build');
      const traceId = request.spanContext().traceId;
      expect(enqueue.spanContext().traceId).toBe(traceId);
      expect(parentSpanId(enqueue)).toBe(request.spanContext().spanId);
      expect(run.spanContext().traceId).toBe(traceId);
      expect(parentSpanId(run)).toBe(enqueue.spanContext().spanId);
      expect(enqueue.kind).toBe(SpanKind.PRODUCER);
      expect(enqueue.attributes).toMatchObject({
        'messaging.system': 'nestjs-tasks',
        'messaging.operation.type': 'send',
        'messaging.destination.name': 'reports',
        'messaging.message.id': enqueued.id,
      });
      expect(run.kind).toBe(SpanKind.CONSUMER);
      expect(run.attributes).toMatchObject({
        'messaging.system': 'nestjs-tasks',
        'messaging.operation.type': 'process',
        'messaging.destination.name': 'reports',
        'messaging.message.id': enqueued.id,
        'nestjs_tasks.task.name': 'ReportTasks.build',
        'nestjs_tasks.task.attempt': 1,
      });
      expect(run.status.code).toBe(SpanStatusCode.UNSET);
      const result = await queue.getResult(enqueued.id);
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    });

    it('records each failed attempt on its run span, both children of the enqueue span', async () => {
      const queue = web.get(TaskQueue);
      const enqueued = await inRequest(() =>
        queue.enqueue(ReportTasks, 'broken'),
      );
      expect(await batchWorker(worker).run()).toBe('drained');

      expect((await queue.getResult(enqueued.id)).status).toBe(
        TaskResultStatus.FAILED,
      );
      const enqueue = tracing.span('enqueue ReportTasks.broken');
      const runs = tracing
        .spans()
        .filter((span) => span.name === 'run ReportTasks.broken');
      expect(
        runs.map((run) => run.attributes['nestjs_tasks.task.attempt']),
      ).toEqual([1, 2]);
      for (const run of runs) {
        expect(parentSpanId(run)).toBe(enqueue.spanContext().spanId);
        expect(run.status).toEqual({
          code: SpanStatusCode.ERROR,
          message: 'the template is missing',
        });
        expect(run.events.map((event) => event.attributes)).toEqual([
          expect.objectContaining({
            'exception.type': 'TypeError',
            'exception.message': 'the template is missing',
          }),
        ]);
      }
    });

    it('stores the trace context of an enqueue in a transaction, and nothing when it rolls back', async () => {
      const queue = web.get(TaskQueue);
      const committed = await inRequest(() =>
        ds.transaction((manager) =>
          queue
            .task(ReportTasks, 'build')
            .using({ transaction: manager })
            .enqueue('2026-10'),
        ),
      );
      let rolledBack = '';
      await expect(
        ds.transaction(async (manager) => {
          const held = await queue
            .task(ReportTasks, 'build')
            .using({ transaction: manager })
            .enqueue('rolled back');
          rolledBack = held.id;
          throw new Error('rollback');
        }),
      ).rejects.toThrow('rollback');
      expect(await batchWorker(worker).run()).toBe('drained');

      const run = tracing
        .spans()
        .find(
          (span) =>
            span.name === 'run ReportTasks.build' &&
            span.attributes['messaging.message.id'] === committed.id,
        )!;
      const stored = await storedMetadata(committed.id);
      expect(stored.traceparent).toBe(
        `00-${run.spanContext().traceId}-${parentSpanId(run)}-01`,
      );
      const ranIds = tracing
        .spans()
        .filter((span) => span.name === 'run ReportTasks.build')
        .map((span) => span.attributes['messaging.message.id']);
      expect(ranIds).toContain(committed.id);
      expect(rolledBack).not.toBe('');
      expect(ranIds).not.toContain(rolledBack);
    });
  },
);
