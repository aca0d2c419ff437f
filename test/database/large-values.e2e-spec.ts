import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import { Task, TaskQueue, TaskResultStatus } from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
  type TestSchema,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

const MEGABYTE = 1024 * 1024;

/** Text of more than `bytes` UTF-8 bytes, with characters of one to four bytes. */
function largeText(bytes: number, line: (i: number) => string): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size <= bytes; i++) {
    lines.push(line(i));
    size += Buffer.byteLength(lines[lines.length - 1]) + 1;
  }
  return lines.join('\n');
}

/** Compares long text without printing megabytes when it differs. */
function expectText(actual: unknown, expected: string): void {
  const text = String(actual);
  let differsAt = -1;
  for (let i = 0; i < Math.max(text.length, expected.length); i++) {
    if (text[i] !== expected[i]) {
      differsAt = i;
      break;
    }
  }
  expect({ type: typeof actual, length: text.length, differsAt }).toEqual({
    type: 'string',
    length: expected.length,
    differsAt: -1,
  });
}

const ARGUMENT = largeText(MEGABYTE, (i) => `argument ${i}: é ✓ 🙂`);
const TRACEBACK = largeText(
  MEGABYTE,
  (i) => `    at frame${i} (/app/src/deep/module-${i % 97}.ts:${i}:7)`,
);

@Injectable()
class LargeTasks {
  /** Returns a value as large as its argument, and different from it. */
  @Task()
  shout(text: string): string {
    return text.toUpperCase();
  }

  @Task()
  fail(traceback: string): never {
    const error = new Error('a task with a deep stack failed');
    error.stack = traceback;
    throw error;
  }
}

/** Values of over 1 MB in every JSON column the worker writes, on tables made either way. */
describe.each(availableDatabases())(
  'values over 1 MB on $name',
  (db: TestDatabase) => {
    describe.each<TestSchema>(['migrations', 'synchronize'])(
      'with tables made by %s',
      (schema) => {
        const tableName = uniqueTableName('t_large');
        let ds: DataSource;
        let moduleRef: TestingModule;

        beforeAll(async () => {
          ds = await openTestDataSource(db, tableName, schema);
          moduleRef = await bootTasksApp({
            dataSource: ds,
            tableName,
            providers: [LargeTasks],
          });
        });

        afterAll(async () => {
          try {
            await moduleRef?.close();
          } finally {
            await closeTestDataSource(db, ds, tableName);
          }
        });

        it('stores and loads arguments, a return value and an error traceback', async () => {
          expect(Buffer.byteLength(ARGUMENT)).toBeGreaterThan(MEGABYTE);
          expect(Buffer.byteLength(TRACEBACK)).toBeGreaterThan(MEGABYTE);
          const queue = moduleRef.get(TaskQueue);
          const shouted = await queue.enqueue(LargeTasks, 'shout', ARGUMENT);
          const failed = await queue.enqueue(LargeTasks, 'fail', TRACEBACK);
          expect(await batchWorker(moduleRef).run()).toBe('drained');

          const success = await queue.getResult<string>(shouted.id);
          expect(success.status).toBe(TaskResultStatus.SUCCESSFUL);
          expectText(success.args[0], ARGUMENT);
          expectText(success.returnValue, ARGUMENT.toUpperCase());

          const failure = await queue.getResult(failed.id);
          expect(failure.status).toBe(TaskResultStatus.FAILED);
          expectText(failure.args[0], TRACEBACK);
          expect(failure.errors).toHaveLength(1);
          expect(failure.errors[0].errorClass).toBe('Error');
          expectText(failure.errors[0].traceback, TRACEBACK);
        });

        it('stores values made of the characters every layer escapes (each doubled on its way to MySQL/MariaDB)', async () => {
          // 2.5 MB of backslashes and quotes: 5 MB once JSON, more than 16 MB had it been escaped twice more.
          const escapes = '\\"'.repeat(1_250_000);
          const queue = moduleRef.get(TaskQueue);
          const enqueued = await queue
            .task(LargeTasks, 'shout')
            .enqueueMany([[escapes], ['small']]);
          expect(await batchWorker(moduleRef).run()).toBe('drained');
          const [large, small] = await Promise.all(
            enqueued.map((result) => queue.getResult<string>(result.id)),
          );
          expect(large.status).toBe(TaskResultStatus.SUCCESSFUL);
          expectText(large.args[0], escapes);
          expectText(large.returnValue, escapes);
          expect(small.returnValue).toBe('SMALL');
        });
      },
    );
  },
);
