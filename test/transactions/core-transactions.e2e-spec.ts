import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  DummyBackend,
  ImmediateBackend,
  Task,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
} from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { DispatchFailures } from '../support/outbox.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { ChainTasks } from '../support/transaction-chain.js';

/** The tasks of the other backends; ChainTasks has those of 'default' and 'held'. */
@Injectable()
class TxTasks {
  constructor(private readonly ds: DataSource) {}

  /** Counts the orders committed so far, through a connection of its own. */
  @Task({ backend: 'inline' })
  async countOrders(): Promise<number> {
    const table = process.env.TX_ORDERS_TABLE;
    const [row] = await this.ds.query(`SELECT COUNT(*) AS n FROM ${table}`);
    return Number(row.n);
  }

  @Task({ backend: 'missing' })
  async lost(n: number): Promise<number> {
    return n;
  }
}

describe.each(availableDatabases())(
  'transactions on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_tx');
    const orders = `${table}_orders`;
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let held: DummyBackend;
    let elsewhere: DataSource;

    const insertOrder = (manager: { query: DataSource['query'] }) =>
      manager.query(`INSERT INTO ${orders} (id) VALUES (1)`);
    const rowCount = async (): Promise<number> => {
      const [row] = await ds.query(`SELECT COUNT(*) AS n FROM ${table}`);
      return Number(row.n);
    };
    class Rollback extends Error {}

    beforeAll(async () => {
      process.env.TX_ORDERS_TABLE = orders;
      ds = await openTestDataSource(db, table);
      await ds.query(`CREATE TABLE ${orders} (id INTEGER NOT NULL)`);
      elsewhere = new DataSource({
        type: 'better-sqlite3',
        database: ':memory:',
      });
      await elsewhere.initialize();
      moduleRef = await bootTasksApp({
        tableName: table,
        backends: {
          held: { backend: DummyBackend, queues: [] },
          inline: { backend: ImmediateBackend, queues: [] },
          // Another DataSource whose tables nobody created: storing there fails after the commit.
          missing: {
            backend: DatabaseBackend,
            queues: [],
            options: { dataSource: elsewhere },
          },
        },
        providers: [ChainTasks, TxTasks, DispatchFailures],
        provideDataSource: ds,
        logger: true,
      });
      queue = moduleRef.get(TaskQueue);
      held = queue.backend('held') as DummyBackend;
    });

    afterEach(async () => {
      held.clear();
      await ds.query(`DELETE FROM ${orders}`);
      await ds.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await elsewhere?.destroy();
      await ds?.query(`DROP TABLE IF EXISTS ${orders}`);
      await closeTestDataSource(db, ds, table);
    });

    describe('a DatabaseBackend on the same DataSource writes the row in the transaction', () => {
      it.each([
        [
          'TaskQueue.transaction',
          (work: (m: any) => Promise<void>) => queue.transaction(work),
        ],
        [
          'using({ transaction })',
          (work: (m: any) => Promise<void>) => ds.transaction(work),
        ],
      ])('%s: commit keeps the row, rollback removes it', async (how, run) => {
        const enqueue = (manager: any) =>
          how === 'TaskQueue.transaction'
            ? queue.enqueue(ChainTasks, 'outbox', 1)
            : queue
                .task(ChainTasks, 'outbox')
                .using({ transaction: manager })
                .enqueue(1);
        let committedId = '';
        await run(async (manager) => {
          committedId = (await enqueue(manager)).id;
          expect(await rowCount()).toBe(db.name === 'sqlite' ? 1 : 0);
        });
        expect((await queue.getResult(committedId)).status).toBe(
          TaskResultStatus.READY,
        );
        let rolledBackId = '';
        await expect(
          run(async (manager) => {
            rolledBackId = (await enqueue(manager)).id;
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        await expect(queue.getResult(rolledBackId)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
        expect(await rowCount()).toBe(1);
      });
    });

    describe('other backends hold the enqueue until the outermost commit', () => {
      it('commit dispatches once, after the commit; the held result has its id at once', async () => {
        let heldId = '';
        await queue.transaction(async () => {
          const result = await queue.enqueue(ChainTasks, 'held', 7);
          heldId = result.id;
          expect(result.status).toBe(TaskResultStatus.READY);
          expect(held.results).toHaveLength(0);
          await expect(queue.getResult(result.id, 'held')).rejects.toThrow(
            TaskResultDoesNotExistError,
          );
        });
        expect(held.results.map((result) => result.id)).toEqual([heldId]);
        expect(held.results[0].args).toEqual([7]);
      });

      it('rollback drops it', async () => {
        await expect(
          queue.transaction(async () => {
            await queue.enqueue(ChainTasks, 'held', 1);
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(held.results).toHaveLength(0);
      });

      it('a savepoint release is not a commit; a rolled-back savepoint drops only its own enqueues', async () => {
        await queue.transaction(async () => {
          await queue.enqueue(ChainTasks, 'held', 1);
          await queue.transaction(async () => {
            await queue.enqueue(ChainTasks, 'held', 2);
          });
          expect(held.results).toHaveLength(0);
          await expect(
            queue.transaction(async () => {
              await queue.enqueue(ChainTasks, 'held', 3);
              throw new Rollback();
            }),
          ).rejects.toThrow(Rollback);
          await queue.transaction(async () => {
            await queue.enqueue(ChainTasks, 'held', 4);
          });
        });
        expect(held.results.map((result) => result.args[0]).sort()).toEqual([
          1, 2, 4,
        ]);
      });

      it('nothing is dispatched when the outer transaction rolls back after inner commits', async () => {
        await expect(
          queue.transaction(async () => {
            await queue.transaction(async () => {
              await queue.enqueue(ChainTasks, 'held', 1);
            });
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(held.results).toHaveLength(0);
      });

      it('the explicit manager of using({ transaction }) holds it too', async () => {
        await ds.transaction(async (manager) => {
          await queue
            .task(ChainTasks, 'held')
            .using({ transaction: manager })
            .enqueue(5);
          expect(held.results).toHaveLength(0);
        });
        expect(held.results).toHaveLength(1);
        await expect(
          ds.transaction(async (manager) => {
            await queue
              .task(ChainTasks, 'held')
              .using({ transaction: manager })
              .enqueue(6);
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(held.results).toHaveLength(1);
      });

      it('an ImmediateBackend task never runs against uncommitted data', async () => {
        let counted:
          { status: TaskResultStatus; returnValue?: number } | undefined;
        const result = await queue.transaction(async (manager) => {
          await insertOrder(manager);
          const pending = await queue.enqueue(TxTasks, 'countOrders');
          counted = { status: pending.status };
          return pending;
        });
        expect(counted?.status).toBe(TaskResultStatus.READY);
        // Updated in place once it ran after the commit: it saw the committed order.
        expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
        expect(result.returnValue).toBe(1);
      });

      it('a dispatch that fails after the commit is logged and emitted, never thrown into the committed code', async () => {
        const failures = moduleRef.get(DispatchFailures);
        failures.events.length = 0;
        const result = await queue.transaction(async (manager) => {
          await insertOrder(manager);
          return queue.enqueue(TxTasks, 'lost', 1);
        });
        const [count] = await ds.query(`SELECT COUNT(*) AS n FROM ${orders}`);
        expect(Number(count.n)).toBe(1);
        expect(failures.events).toHaveLength(1);
        expect(failures.events[0].result.id).toBe(result.id);
        expect(failures.events[0].error).toBeInstanceOf(Error);
      });

      it('outside any transaction dispatches at once', async () => {
        await queue.enqueue(ChainTasks, 'held', 9);
        expect(held.results).toHaveLength(1);
      });
    });
  },
);
