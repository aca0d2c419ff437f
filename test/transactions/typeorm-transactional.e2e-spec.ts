/**
 * typeorm-transactional: createTypeormTransactionalSource() against a real
 * PostgreSQL (127.0.0.1:5432, user postgres, database test), then the whole
 * chain (TasksModule + @Transactional() + TaskQueue.enqueue) on PostgreSQL and
 * MariaDB (127.0.0.1:3306, root, empty password, database test).
 *
 * typeorm-transactional's context is process-wide (Jest gives each test file
 * its own module registry, so it is per file here): the "never initialized"
 * case runs first, before initializeTransactionalContext(). Its DataSource
 * map is process-wide too and the library only looks at the DataSource added
 * as 'default': each suite removes the previous one
 * (deleteDataSourceByName('default')) before adding its own.
 */
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import {
  Column,
  DataSource,
  Entity,
  PrimaryGeneratedColumn,
  Repository,
  type DataSourceOptions,
  type EntityManager,
} from 'typeorm';
import {
  Propagation,
  StorageDriver,
  Transactional,
  addTransactionalDataSource,
  deleteDataSourceByName,
  initializeTransactionalContext,
  runInTransaction,
} from 'typeorm-transactional';
import {
  DummyBackend,
  OnTaskEvent,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  type TaskEvent,
} from '../../lib/index.js';
import type { AmbientTransactionSource } from '../../lib/transactions/ambient-transaction-source.js';
import { createTypeormTransactionalSource } from '../../lib/transactions/typeorm-transactional.source.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { bootTasksApp } from '../support/tasks-app.js';
import {
  ChainTasks,
  POSTGRES_CONNECTION,
  backendPid,
  labelCounter,
} from '../support/transaction-chain.js';

const TABLE = 'nestjs_tasks_tx_typeorm_transactional';

@Entity({ name: TABLE })
class Note {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'text' })
  label!: string;
}

/** What a service sees inside its @Transactional() method. */
interface Seen {
  manager: EntityManager | null;
  active: boolean;
  pid: number;
  repositoryPid: number;
  visibleHere: number;
  visibleElsewhere: number;
}

@Injectable()
class NoteService {
  static source: AmbientTransactionSource;
  static observer: DataSource;

  constructor(@InjectRepository(Note) readonly notes: Repository<Note>) {}

  @Transactional()
  async addAndLook(label: string): Promise<Seen> {
    // The repository's manager is patched to the transaction's one here.
    await this.notes.save(this.notes.create({ label }));
    const manager = NoteService.source.currentManager();
    if (!manager) throw new Error('no ambient manager');
    return {
      manager,
      active: manager.queryRunner?.isTransactionActive === true,
      pid: await backendPid(manager),
      repositoryPid: await backendPid(this.notes.manager),
      visibleHere: await countLabel(manager, label),
      visibleElsewhere: await countLabel(NoteService.observer.manager, label),
    };
  }

  @Transactional({ propagation: Propagation.NOT_SUPPORTED })
  async outside(): Promise<EntityManager | null> {
    return NoteService.source.currentManager();
  }

  @Transactional({ propagation: Propagation.NESTED })
  async nested(): Promise<EntityManager | null> {
    return NoteService.source.currentManager();
  }

  @Transactional({ propagation: Propagation.REQUIRES_NEW })
  async requiresNew(): Promise<EntityManager | null> {
    return NoteService.source.currentManager();
  }

  @Transactional()
  async failing(): Promise<never> {
    await this.notes.save(this.notes.create({ label: 'rolled-back' }));
    throw new Error('boom');
  }
}

let contextInitialized = false;

/** initializeTransactionalContext() once per file: it patches TypeORM's prototypes. */
function initializeContextOnce(): void {
  if (contextInitialized) return;
  initializeTransactionalContext({
    storageDriver: StorageDriver.ASYNC_LOCAL_STORAGE,
  });
  contextInitialized = true;
}

const countLabel = labelCounter(TABLE);

describe('createTypeormTransactionalSource (typeorm-transactional, PostgreSQL)', () => {
  let observer: DataSource;
  let moduleRef: INestApplicationContext | undefined;
  let source: AmbientTransactionSource;
  let service: NoteService;

  beforeAll(async () => {
    observer = await new DataSource(POSTGRES_CONNECTION).initialize();
    await observer.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await observer.query(
      `CREATE TABLE ${TABLE} (id serial PRIMARY KEY, label text NOT NULL)`,
    );
    NoteService.observer = observer;
  });

  afterAll(async () => {
    await moduleRef?.close();
    if (observer?.isInitialized) {
      await observer.query(`DROP TABLE IF EXISTS ${TABLE}`);
      await observer.destroy();
    }
  });

  it('is null until initializeTransactionalContext() has been called', async () => {
    await expect(createTypeormTransactionalSource()).resolves.toBeNull();
  });

  describe('once the context is initialized', () => {
    beforeAll(async () => {
      initializeContextOnce();
      const testing = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRootAsync({
            useFactory: () => ({ ...POSTGRES_CONNECTION, entities: [Note] }),
            // The documented NestJS set-up: add the DataSource as 'default'.
            dataSourceFactory: async (options?: DataSourceOptions) =>
              addTransactionalDataSource(new DataSource(options!)),
          }),
          TypeOrmModule.forFeature([Note]),
        ],
        providers: [NoteService],
      }).compile();
      moduleRef = await testing.init();
      service = moduleRef.get(NoteService);
      const created = await createTypeormTransactionalSource();
      expect(created).not.toBeNull();
      source = created!;
      NoteService.source = source;
    });

    it('is named after the package', () => {
      expect(source.name).toBe('typeorm-transactional');
    });

    it('has no manager outside a transaction', () => {
      expect(source.currentManager()).toBeNull();
    });

    it('gives the @Transactional() transaction manager, on its connection', async () => {
      const seen = await service.addAndLook('in-transaction');

      expect(seen.active).toBe(true);
      expect(seen.manager!.dataSource).toBe(moduleRef!.get(DataSource));
      expect(seen.pid).toBe(seen.repositoryPid);
      expect(seen.visibleHere).toBe(1);
      expect(seen.visibleElsewhere).toBe(0);

      expect(source.currentManager()).toBeNull();
      expect(seen.manager!.queryRunner!.isTransactionActive).toBe(false);
      await expect(
        countLabel(observer.manager, 'in-transaction'),
      ).resolves.toBe(1);
    });

    it('gives the runInTransaction() manager, and none after a rollback', async () => {
      let inside: EntityManager | null = null;
      await runInTransaction(async () => {
        inside = source.currentManager();
      });
      expect(inside).not.toBeNull();
      expect(source.currentManager()).toBeNull();

      await expect(service.failing()).rejects.toThrow('boom');
      expect(source.currentManager()).toBeNull();
      await expect(countLabel(observer.manager, 'rolled-back')).resolves.toBe(
        0,
      );
    });

    it('has none once the callback has returned, before COMMIT', async () => {
      let atCommit: EntityManager | null | undefined;
      await runInTransaction(async () => {
        const runner = source.currentManager()!.queryRunner!;
        const commit = runner.commitTransaction.bind(runner);
        runner.commitTransaction = async () => {
          atCommit = source.currentManager();
          await commit();
        };
      });
      expect(atCommit).toBeNull();
    });

    it('keeps the outer manager per async context, not per process', async () => {
      const other: (EntityManager | null)[] = [];
      let release!: () => void;
      const held = new Promise<void>((done) => (release = done));
      const outer = runInTransaction(async () => {
        await held;
        return source.currentManager();
      });
      other.push(source.currentManager());
      release();
      expect(await outer).not.toBeNull();
      expect(other).toEqual([null]);
    });

    it('has none under Propagation.NOT_SUPPORTED, and the outer one again after', async () => {
      await runInTransaction(async () => {
        const outer = source.currentManager();
        expect(outer).not.toBeNull();
        await expect(service.outside()).resolves.toBeNull();
        expect(source.currentManager()).toBe(outer);
      });
    });

    it('gives a separate transaction (own connection) under NESTED and REQUIRES_NEW', async () => {
      await runInTransaction(async () => {
        const outer = source.currentManager()!;
        const nested = (await service.nested())!;
        const requiresNew = (await service.requiresNew())!;
        // NESTED is not a SAVEPOINT in typeorm-transactional 0.5: the patched
        // dataSource.transaction() opens a new QueryRunner, which commits on
        // its own.
        expect(nested).not.toBe(outer);
        expect(nested.queryRunner).not.toBe(outer.queryRunner);
        expect(requiresNew.queryRunner).not.toBe(outer.queryRunner);
        expect(source.currentManager()).toBe(outer);
      });
    });
  });
});

// ---------------------------------------------------------------------------
// The whole chain: TasksModule finds the @Transactional() transaction.
// ---------------------------------------------------------------------------

/**
 * Records, when a held enqueue reaches the DummyBackend, how many orders
 * another connection sees committed: the transaction's order is committed by
 * then only if the dispatch runs after COMMIT.
 */
@Injectable()
class DispatchWatcher {
  observer: DataSource | null = null;
  orders = '';
  readonly seen: { id: string; ordersCommitted: number }[] = [];

  @OnTaskEvent('enqueued')
  async record({ result }: TaskEvent): Promise<void> {
    if (result.backend !== 'held' || !this.observer) return;
    const [row] = await this.observer.query(
      `SELECT COUNT(*) AS n FROM ${this.orders}`,
    );
    this.seen.push({ id: result.id, ordersCommitted: Number(row.n) });
  }
}

/** Runs callbacks under typeorm-transactional's decorator. */
@Injectable()
class Checkout {
  @Transactional()
  required<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  @Transactional({ propagation: Propagation.NESTED })
  nested<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }
}

class Rollback extends Error {}

const SERVERS = availableDatabases().filter((db) => db.name !== 'sqlite');

(SERVERS.length > 0 ? describe.each(SERVERS) : describe.skip.each([null]))(
  'TasksModule inside typeorm-transactional transactions on $name',
  (db: TestDatabase | null) => {
    const table = uniqueTableName('t_tx_tt');
    const orders = `${table}_orders`;
    let ds: DataSource;
    let observer: DataSource;
    let moduleRef: TestingModule | undefined;
    let queue: TaskQueue;
    let held: DummyBackend;
    let watcher: DispatchWatcher;
    let checkout: Checkout;

    /** Rows of task `id` that `manager` sees (`observer.manager`: another connection). */
    const taskRows = async (
      manager: Pick<EntityManager, 'query'>,
      id: string,
    ): Promise<number> => {
      const [row] = await manager.query(
        `SELECT COUNT(*) AS n FROM ${table} WHERE id = '${id}'`,
      );
      return Number(row.n);
    };
    const committedOrders = async (): Promise<number> => {
      const [row] = await observer.query(`SELECT COUNT(*) AS n FROM ${orders}`);
      return Number(row.n);
    };
    /** typeorm-transactional patches `ds.manager`: inside @Transactional() it is the transaction's manager. */
    const insertOrder = () =>
      ds.manager.query(`INSERT INTO ${orders} (id) VALUES (1)`);
    const heldArgs = () =>
      held.results.map((result) => result.args[0] as number).sort();

    beforeAll(async () => {
      initializeContextOnce();
      ds = await openTestDataSource(db!, table);
      await ds.query(`DROP TABLE IF EXISTS ${orders}`);
      await ds.query(`CREATE TABLE ${orders} (id INTEGER NOT NULL)`);
      // The library joins the transactions of the DataSource added as 'default'.
      deleteDataSourceByName('default');
      addTransactionalDataSource(ds);
      observer = await connectTestDataSource(db!, table);
      moduleRef = await bootTasksApp({
        tableName: table,
        backends: { held: { backend: DummyBackend, queues: [] } },
        providers: [ChainTasks, DispatchWatcher, Checkout],
        provideDataSource: ds,
        logger: true,
      });
      queue = moduleRef.get(TaskQueue);
      held = queue.backend('held') as DummyBackend;
      watcher = moduleRef.get(DispatchWatcher);
      watcher.observer = observer;
      watcher.orders = orders;
      checkout = moduleRef.get(Checkout);
    });

    afterEach(async () => {
      held.clear();
      watcher.seen.length = 0;
      await observer.query(`DELETE FROM ${orders}`);
      await observer.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      deleteDataSourceByName('default');
      if (observer?.isInitialized) {
        await observer.query(`DROP TABLE IF EXISTS ${orders}`);
        await observer.destroy();
      }
      await closeTestDataSource(db!, ds, table);
    });

    describe('a held backend (DummyBackend) inside @Transactional()', () => {
      it('commit: dispatched once, after COMMIT; the result has its id and READY at once', async () => {
        let id = '';
        await checkout.required(async () => {
          await insertOrder();
          const result = await queue.enqueue(ChainTasks, 'held', 7);
          id = result.id;
          expect(id).toMatch(/\S/);
          expect(result.status).toBe(TaskResultStatus.READY);
          expect(held.results).toHaveLength(0);
          await expect(queue.getResult(id, 'held')).rejects.toThrow(
            TaskResultDoesNotExistError,
          );
          expect(await committedOrders()).toBe(0);
        });
        expect(held.results.map((result) => result.id)).toEqual([id]);
        expect(held.results[0].args).toEqual([7]);
        // When it reached the backend, the transaction's order was committed.
        expect(watcher.seen).toEqual([{ id, ordersCommitted: 1 }]);
        expect((await queue.getResult(id, 'held')).status).toBe(
          TaskResultStatus.READY,
        );
      });

      it('rollback: nothing is dispatched', async () => {
        await expect(
          checkout.required(async () => {
            await insertOrder();
            await queue.enqueue(ChainTasks, 'held', 1);
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(held.results).toHaveLength(0);
        expect(watcher.seen).toHaveLength(0);
        expect(await committedOrders()).toBe(0);
      });

      it('runInTransaction() holds it the same way', async () => {
        await runInTransaction(async () => {
          await queue.enqueue(ChainTasks, 'held', 1);
          expect(held.results).toHaveLength(0);
        });
        expect(heldArgs()).toEqual([1]);
      });
    });

    describe('a DatabaseBackend on the same DataSource inside @Transactional()', () => {
      it('commit: the row is written in the transaction, unseen elsewhere until COMMIT', async () => {
        let id = '';
        await checkout.required(async () => {
          const result = await queue.enqueue(ChainTasks, 'outbox', 1);
          id = result.id;
          expect(result.status).toBe(TaskResultStatus.READY);
          expect(await taskRows(ds.manager, id)).toBe(1);
          expect(await taskRows(observer.manager, id)).toBe(0);
        });
        expect(await taskRows(observer.manager, id)).toBe(1);
        expect((await queue.getResult(id)).status).toBe(TaskResultStatus.READY);
      });

      it('rollback: no row', async () => {
        let id = '';
        await expect(
          checkout.required(async () => {
            id = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
            expect(await taskRows(ds.manager, id)).toBe(1);
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(await taskRows(observer.manager, id)).toBe(0);
        await expect(queue.getResult(id)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
      });
    });

    it('REQUIRED inside REQUIRED joins the outer transaction: nothing goes out until it commits, and nothing if it rolls back', async () => {
      let outboxId = '';
      await expect(
        checkout.required(async () => {
          await checkout.required(async () => {
            await queue.enqueue(ChainTasks, 'held', 1);
            outboxId = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
          });
          expect(held.results).toHaveLength(0);
          expect(await taskRows(observer.manager, outboxId)).toBe(0);
          throw new Rollback();
        }),
      ).rejects.toThrow(Rollback);
      expect(held.results).toHaveLength(0);
      expect(await taskRows(observer.manager, outboxId)).toBe(0);
    });

    /**
     * Propagation.NESTED in typeorm-transactional 0.5 is NOT a savepoint:
     * wrapInTransaction() handles NESTED exactly like REQUIRES_NEW, calling
     * `dataSource.transaction()`, which the package patches to the original
     * (non-transactional) manager's `transaction()`. That takes a new
     * QueryRunner: another connection and an independent transaction, which
     * COMMITs when the NESTED method returns and ROLLBACKs when it throws,
     * whatever the outer transaction does afterwards. While it runs, the
     * context reports its manager, so the library joins it instead of the
     * outer one. What a user gets:
     * - held-backend enqueues made inside a NESTED method are dispatched as
     *   soon as that method's own transaction commits (the outer one still
     *   open), are kept even if the outer transaction then rolls back, and are
     *   dropped if the NESTED method throws;
     * - a DatabaseBackend row enqueued inside a NESTED method commits with the
     *   NESTED transaction: visible to other connections at once, kept if the
     *   outer rolls back;
     * - enqueues made in the outer method, before or after the NESTED call,
     *   follow the outer transaction.
     * That is, NESTED behaves as REQUIRES_NEW. For savepoint semantics nest
     * `TaskQueue.transaction()` calls, or use @nestjs-cls/transactional's
     * Propagation.Nested.
     */
    describe('Propagation.NESTED (an independent transaction in typeorm-transactional 0.5)', () => {
      it('runs on another connection than the outer transaction', async () => {
        await checkout.required(async () => {
          const outer = ds.manager.queryRunner;
          expect(outer?.isTransactionActive).toBe(true);
          await checkout.nested(async () => {
            expect(ds.manager.queryRunner).not.toBe(outer);
            expect(ds.manager.queryRunner?.isTransactionActive).toBe(true);
          });
        });
      });

      it('an inner NESTED rollback drops only its own enqueues; the outer commit dispatches the rest', async () => {
        await checkout.required(async () => {
          await queue.enqueue(ChainTasks, 'held', 1);
          await expect(
            checkout.nested(async () => {
              await queue.enqueue(ChainTasks, 'held', 2);
              throw new Rollback();
            }),
          ).rejects.toThrow(Rollback);
          await queue.enqueue(ChainTasks, 'held', 3);
          expect(held.results).toHaveLength(0);
        });
        expect(heldArgs()).toEqual([1, 3]);
      });

      it('an inner NESTED commit dispatches at once, and an outer rollback does not take it back', async () => {
        let nestedRow = '';
        let outerRow = '';
        await expect(
          checkout.required(async () => {
            await queue.enqueue(ChainTasks, 'held', 1);
            outerRow = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
            await checkout.nested(async () => {
              await queue.enqueue(ChainTasks, 'held', 2);
              nestedRow = (await queue.enqueue(ChainTasks, 'outbox', 2)).id;
              expect(held.results).toHaveLength(0);
              expect(await taskRows(observer.manager, nestedRow)).toBe(0);
            });
            // The NESTED transaction has committed; the outer one is still open.
            expect(heldArgs()).toEqual([2]);
            expect(await taskRows(observer.manager, nestedRow)).toBe(1);
            expect(await taskRows(observer.manager, outerRow)).toBe(0);
            throw new Rollback();
          }),
        ).rejects.toThrow(Rollback);
        expect(heldArgs()).toEqual([2]);
        expect((await queue.getResult(nestedRow)).status).toBe(
          TaskResultStatus.READY,
        );
        await expect(queue.getResult(outerRow)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
      });
    });
  },
);
