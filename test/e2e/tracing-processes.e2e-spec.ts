import type { TestingModule } from '@nestjs/testing';
import { trace } from '@opentelemetry/api';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { TaskQueue, TaskResultStatus } from '../../lib/index.js';
import { ProcessTasks } from '../src/process-tasks.js';
import type { TracedSpan } from '../src/trace-to-file.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { installTestTracing, type TestTracing } from '../support/tracing.js';
import {
  buildTestApp,
  startWorker,
  workerEnv,
} from '../support/worker-process.js';

beforeAll(buildTestApp, 60_000);

/** The enqueuing request's trace continues in a `tasks:work` process, through the row. */
describe.each(availableDatabases())(
  'tracing into a worker process on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_trace_proc');
    const traceFile = join(tmpdir(), `${table}.spans.jsonl`);
    let ds: DataSource;
    let moduleRef: TestingModule;
    let tracing: TestTracing;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      tracing = installTestTracing();
      moduleRef = await bootTasksApp({
        tableName: table,
        providers: [ProcessTasks],
        provideDataSource: ds,
      });
    });

    afterAll(async () => {
      try {
        await moduleRef?.close();
        await tracing?.uninstall();
      } finally {
        rmSync(traceFile, { force: true });
        await closeTestDataSource(db, ds, table);
      }
    });

    it('runs the task in a child span of the enqueue span, in the same trace', async () => {
      const queue = moduleRef.get(TaskQueue);
      const enqueued = await trace
        .getTracer('app')
        .startActiveSpan('POST /keys', (span) =>
          queue
            .enqueue(ProcessTasks, 'keyed', `key-${table}`)
            .finally(() => span.end()),
        );
      const enqueue = tracing.span('enqueue ProcessTasks.keyed');

      const worker = startWorker(
        workerEnv(db, ds, table, 30_000, { TASKS_TEST_TRACE_FILE: traceFile }),
        ['--batch'],
      );
      const exit = await worker.exited;
      if (exit !== 0)
        throw new Error(`worker exited with ${exit}:\n${worker.output()}`);

      expect((await queue.getResult(enqueued.id)).status).toBe(
        TaskResultStatus.SUCCESSFUL,
      );
      expect(existsSync(traceFile)).toBe(true);
      const spans = readFileSync(traceFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as TracedSpan);
      const runs = spans.filter(
        (span) => span.name === 'run ProcessTasks.keyed',
      );
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({
        traceId: tracing.span('POST /keys').spanContext().traceId,
        parentSpanId: enqueue.spanContext().spanId,
        attributes: {
          'messaging.system': 'nestjs-tasks',
          'messaging.operation.type': 'process',
          'messaging.message.id': enqueued.id,
          'nestjs_tasks.task.attempt': 1,
        },
      });
    });
  },
);
