import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  ImmediateBackend,
  InvalidTaskError,
  OnTaskEvent,
  Task,
  TaskQueue,
  TaskResultStatus,
  type TaskContext,
  type TaskEvent,
} from '../../lib/index.js';
import { Gate } from '../fixtures/conformance.fixtures.js';
import { bootApp } from '../support/boot-app.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

class Boom extends Error {}

/** Tasks that write orders through their attempt's transaction; `orders` is set by the suite. */
@Injectable()
class OrderTasks {
  static orders = 'orders';
  gate = new Gate();
  readonly finished: string[] = [];
  runs = 0;

  private insert(ctx: TaskContext, label: string): Promise<unknown> {
    return ctx.manager!.query(
      `INSERT INTO ${OrderTasks.orders} (label) VALUES (${ctx.manager!.connection.driver.options.type === 'postgres' ? '$1' : '?'})`,
      [label],
    );
  }

  @Task({ transactional: true, takesContext: true })
  async place(ctx: TaskContext, label: string): Promise<string> {
    this.runs += 1;
    await this.insert(ctx, label);
    return label;
  }

  /** Writes, then fails its first attempt: only the second attempt's write stays. */
  @Task({
    transactional: true,
    takesContext: true,
    maxAttempts: 2,
    retryDelay: 0,
  })
  async placeThenFailOnce(ctx: TaskContext, label: string): Promise<string> {
    this.runs += 1;
    await this.insert(ctx, `${label}#${ctx.attempt}`);
    if (ctx.attempt === 1) throw new Boom('first attempt fails');
    return label;
  }

  /** Enqueues a follow-up inside its transaction, then fails for good. */
  @Task({ transactional: true, takesContext: true })
  async enqueueThenFail(ctx: TaskContext, label: string): Promise<void> {
    await this.queue.enqueue(OrderTasks, 'place', `${label}-follow-up`);
    void ctx;
    throw new Boom('rolled back with its enqueue');
  }

  /** Waits at the gate, then writes. */
  @Task({ transactional: true, takesContext: true })
  async waitThenPlace(ctx: TaskContext, label: string): Promise<string> {
    await this.gate.pass();
    await this.insert(ctx, label);
    return label;
  }

  /** Enqueues a follow-up inside its transaction, writes, and succeeds. */
  @Task({ transactional: true, takesContext: true })
  async enqueueAndPlace(ctx: TaskContext, label: string): Promise<string> {
    await this.queue.enqueue(OrderTasks, 'place', `${label}-follow-up`);
    await this.insert(ctx, label);
    return label;
  }

  constructor(private readonly queue: TaskQueue) {}

  @OnTaskEvent('finished')
  onFinished({ result }: TaskEvent): void {
    this.finished.push(result.id);
  }
}

describe.each(availableDatabases())(
  'transactional tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_tx');
    const orders = `${table}_orders`;
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: OrderTasks;

    const labels = async (): Promise<string[]> =>
      (
        (await ds.query(`SELECT label FROM ${orders} ORDER BY label`)) as {
          label: string;
        }[]
      ).map((row) => row.label);

    beforeAll(async () => {
      OrderTasks.orders = orders;
      ds = await openTestDataSource(db, table);
      await ds.query(`CREATE TABLE ${orders} (label VARCHAR(100) NOT NULL)`);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        leaseMs: 2000,
        providers: [OrderTasks],
      });
      queue = moduleRef.get(TaskQueue);
      tasks = moduleRef.get(OrderTasks);
    });

    afterEach(async () => {
      await ds.query(`DELETE FROM ${orders}`);
      await ds.query(`DELETE FROM ${table}`);
      tasks.runs = 0;
      tasks.finished.length = 0;
      tasks.gate = new Gate();
    });

    afterAll(async () => {
      await moduleRef?.close();
      await ds?.query(`DROP TABLE IF EXISTS ${orders}`);
      await closeTestDataSource(db, ds, table);
    });

    it('commits the task writes and its success together', async () => {
      const result = await queue.enqueue(OrderTasks, 'place', 'a');
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe('a');
      expect(await labels()).toEqual(['a']);
      expect(tasks.finished).toEqual([result.id]);
    });

    it('rolls a failed attempt back: only the successful attempt writes', async () => {
      const result = await queue.enqueue(OrderTasks, 'placeThenFailOnce', 'b');
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.attempts).toBe(2);
      expect(result.errors.map((error) => error.message)).toEqual([
        'first attempt fails',
      ]);
      expect(await labels()).toEqual(['b#2']);
    });

    it('rolls back an enqueue made inside a failed attempt', async () => {
      const result = await queue.enqueue(OrderTasks, 'enqueueThenFail', 'c');
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.FAILED);
      const rows = (await ds.query(
        `SELECT task_name FROM ${table} ORDER BY seq`,
      )) as { task_name: string }[];
      expect(rows.map((row) => row.task_name)).toEqual([
        'OrderTasks.enqueueThenFail',
      ]);
      expect(await labels()).toEqual([]);
    });

    it('commits an enqueue made inside a successful attempt with it', async () => {
      await queue.enqueue(OrderTasks, 'enqueueAndPlace', 'd');
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect(await labels()).toEqual(['d', 'd-follow-up']);
    });

    it('rolls back the writes of an attempt whose task was taken over meanwhile, and announces nothing', async () => {
      const result = await queue.enqueue(OrderTasks, 'waitThenPlace', 'e');
      const worker = batchWorker(moduleRef);
      const run = worker.run();
      await tasks.gate.reached;
      // As if its lease ran out and another worker rescued and claimed it.
      const other = await connectTestDataSource(db, table);
      const takeOver = other.query(
        `UPDATE ${table} SET worker_id = ${db.name === 'postgres' ? '$1' : '?'} WHERE id = ${db.name === 'postgres' ? '$2' : '?'}`,
        ['someone-else', result.id],
      );
      try {
        if (db.name === 'sqlite') {
          // One writer: an open transactional attempt holds the write lock,
          // so nothing can take its task over meanwhile.
          await expect(takeOver).rejects.toThrow(/locked/);
          tasks.gate.release();
          expect(await run).toBe('drained');
          expect(await labels()).toEqual(['e']);
          await result.refresh();
          expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
          return;
        }
        await takeOver;
      } finally {
        await other.destroy();
      }
      tasks.gate.release();
      expect(await run).toBe('drained');
      expect(await labels()).toEqual([]);
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.RUNNING);
      expect(tasks.finished).toEqual([]);
    });
  },
);

describe('transactional tasks on a backend without transactions', () => {
  it('fail bootstrap naming the task and the backend', async () => {
    const boot = () =>
      bootApp({
        tasks: { backends: { default: { backend: ImmediateBackend } } },
        providers: [OrderTasks],
      });
    await expect(boot()).rejects.toThrow(InvalidTaskError);
    await expect(boot()).rejects.toThrow(
      /OrderTasks\.place.*'default' \(ImmediateBackend\) cannot run transactional tasks/,
    );
  });
});
