import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
} from '../../lib/index.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

class Rollback extends Error {}

/**
 * The backend's own statements (claims, completions, and enqueues outside
 * any transaction) never join a transaction the application happens to have
 * open on the same DataSource at the time — with one exception on SQLite,
 * whose TypeORM driver shares one connection: see the enqueue test below.
 */
describe.each(availableDatabases())(
  'statements outside unrelated transactions on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_unrelated');
    const orders = `${table}_orders`;
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;

    /**
     * Opens a transaction that writes, waits until `release` resolves, then
     * rolls back. Resolves `written` once the transaction holds its write.
     */
    const unrelatedTransaction = (release: Promise<void>) => {
      let written!: () => void;
      const holding = new Promise<void>((resolve) => (written = resolve));
      const done = ds
        .transaction(async (manager) => {
          await manager.query(`INSERT INTO ${orders} (id) VALUES (1)`);
          written();
          await release;
          throw new Rollback();
        })
        .catch((error) => {
          if (!(error instanceof Rollback)) throw error;
        });
      return { holding, done };
    };

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      await ds.query(`CREATE TABLE ${orders} (id INTEGER NOT NULL)`);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [ConformanceTasks],
      });
      queue = moduleRef.get(TaskQueue);
      // Opens the backend's connection now, not in the middle of a test's transaction.
      expect(await queue.backend().check()).toEqual([]);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await ds?.query(`DROP TABLE IF EXISTS ${orders}`);
      await closeTestDataSource(db, ds, table);
    });

    // SQLite has a single writer: while the application's connection holds a
    // transaction, an enqueue made meanwhile is written in it (waiting for the
    // lock could deadlock a transaction that awaits its own enqueue).
    it(
      db.name === 'sqlite'
        ? 'writes an enqueue made while the application holds a transaction in that transaction'
        : 'keeps an enqueue made elsewhere while another transaction is open and then rolls back',
      async () => {
        let release!: () => void;
        const transaction = unrelatedTransaction(
          new Promise<void>((resolve) => (release = resolve)),
        );
        await transaction.holding;
        const enqueued = queue.enqueue(ConformanceTasks, 'add', 1, 2);
        setTimeout(release, 200);
        const result = await enqueued;
        await transaction.done;
        if (db.name === 'sqlite') {
          await expect(queue.getResult(result.id)).rejects.toThrow(
            TaskResultDoesNotExistError,
          );
        } else {
          expect((await queue.getResult(result.id)).status).toBe(
            TaskResultStatus.READY,
          );
        }
      },
    );

    it('does not deadlock a transaction that enqueues without passing its manager', async () => {
      const result = await ds.transaction(async (manager) => {
        await manager.query(`INSERT INTO ${orders} (id) VALUES (2)`);
        return queue.enqueue(ConformanceTasks, 'add', 2, 2);
      });
      expect((await queue.getResult(result.id)).status).toBe(
        TaskResultStatus.READY,
      );
    });

    it('keeps what a worker claimed and completed while another transaction was open and then rolled back', async () => {
      const tasks = moduleRef.get(ConformanceTasks);
      tasks.reset();
      const result = await queue.enqueue(ConformanceTasks, 'record', 'once');
      let release!: () => void;
      const transaction = unrelatedTransaction(
        new Promise<void>((resolve) => (release = resolve)),
      );
      await transaction.holding;
      const ran = batchWorker(moduleRef).run();
      setTimeout(release, 200);
      expect(await ran).toBe('drained');
      await transaction.done;
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      // A second batch worker finds nothing: the claim was not undone with the rollback.
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect(tasks.executed.filter((label) => label === 'once')).toEqual([
        'once',
      ]);
    });
  },
);
