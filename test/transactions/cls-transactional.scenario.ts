/**
 * The @nestjs-cls/transactional scenario of cls-transactional.e2e-spec.ts,
 * run by plain Node in a child process: nestjs-cls 6 and
 * @nestjs-cls/transactional 3 are CommonJS packages that `require()` the ESM
 * NestJS 12 packages, which Jest's module loader refuses on Node < 24.9
 * (Node itself allows it from 20.19).
 *
 * Two parts: the source alone (createClsTransactionSource), and the whole
 * chain (TasksModule from the compiled lib/, which finds the CLS source
 * itself, + TaskQueue.enqueue inside withTransaction() / @Transactional()).
 *
 * Prints one JSON line of observations for the spec to assert on; a step
 * that throws is recorded as `{ error }` instead of ending the run. Usage:
 * `node cls-transactional.scenario.js <table> <chain table>`.
 */
import 'reflect-metadata';
import {
  ClsPluginTransactional,
  Propagation,
  Transactional,
  TransactionHost,
} from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import {
  Injectable,
  Module,
  type DynamicModule,
  type INestApplicationContext,
} from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ClsModule } from 'nestjs-cls';
import { DataSource, EntitySchema, type EntityManager } from 'typeorm';
import {
  DatabaseBackend,
  DummyBackend,
  OnTaskEvent,
  TaskQueue,
  TasksModule,
  createTaskMigrations,
  type TaskEvent,
} from '../../lib/index.js';
import { registersProviderClass } from '../../lib/dispatch/find-provider.js';
import type { AmbientTransactionSource } from '../../lib/transactions/ambient-transaction-source.js';
import { createClsTransactionSource } from '../../lib/transactions/cls-transaction.source.js';
import { TaskTransactions } from '../../lib/transactions/task-transactions.service.js';
import {
  ChainTasks,
  POSTGRES_CONNECTION,
  backendPid,
  labelCounter,
} from '../support/transaction-chain.js';

const TABLE = process.argv[2];
const CHAIN_TABLE = process.argv[3];
if (!TABLE || !CHAIN_TABLE)
  throw new Error('usage: cls-transactional.scenario.js <table> <chain table>');
const CHAIN_ORDERS = `${CHAIN_TABLE}_orders`;

interface Note {
  id: number;
  label: string;
}

const NoteSchema = new EntitySchema<Note>({
  name: 'ClsTransactionalNote',
  tableName: TABLE,
  columns: {
    id: { type: Number, primary: true, generated: true },
    label: { type: 'text' },
  },
});

type Host = TransactionHost<TransactionalAdapterTypeOrm>;

let source: AmbientTransactionSource | null = null;
let observer: DataSource;

const countLabel = labelCounter(TABLE);

/** What the source gives at one point inside a transaction of `host`. */
async function look(host: Host, label: string) {
  const manager = source!.currentManager();
  return {
    hasManager: manager !== null,
    isTx: manager === host.tx,
    active: manager?.queryRunner?.isTransactionActive === true,
    samePid: manager
      ? (await backendPid(manager)) === (await backendPid(host.tx))
      : false,
    visibleHere: manager ? await countLabel(manager, label) : -1,
    visibleElsewhere: await countLabel(observer.manager, label),
  };
}

@Injectable()
class NoteService {
  constructor(readonly host: TransactionHost<TransactionalAdapterTypeOrm>) {}

  @Transactional()
  async addAndLook(label: string) {
    await this.host.tx.getRepository(NoteSchema).save({ label });
    return look(this.host, label);
  }

  @Transactional(Propagation.NotSupported)
  async outside() {
    return source!.currentManager();
  }
}

async function registeredApp(): Promise<Record<string, unknown>> {
  const testing = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({ ...POSTGRES_CONNECTION, entities: [NoteSchema] }),
      ClsModule.forRoot({
        plugins: [
          new ClsPluginTransactional({
            adapter: new TransactionalAdapterTypeOrm({
              dataSourceToken: DataSource,
            }),
          }),
        ],
      }),
    ],
    providers: [NoteService],
  }).compile();
  const app: INestApplicationContext = await testing.init();
  try {
    source = await createClsTransactionSource(
      (token) => app.get(token as string, { strict: false }),
      registersProviderClass(app.get(ModulesContainer), 'TransactionHost'),
    );
    if (!source) return { created: false };
    const host: Host = app.get(TransactionHost, { strict: false });
    const service = app.get(NoteService);
    const seen: Record<string, unknown> = {
      created: true,
      name: source.name,
      getInstanceIsHost: TransactionHost.getInstance() === host,
      outside: source.currentManager(),
    };

    seen.withTransaction = await host.withTransaction(async () => {
      await host.tx.getRepository(NoteSchema).save({ label: 'with' });
      return look(host, 'with');
    });
    seen.afterCommit = {
      manager: source.currentManager(),
      visibleElsewhere: await countLabel(observer.manager, 'with'),
    };

    // What code the core runs once COMMIT has finished (it hooks the
    // QueryRunner) sees: the host still reports the transaction there.
    const inCommitHook: Record<string, unknown> = {};
    await host.withTransaction(async () => {
      const runner = host.tx.queryRunner!;
      const commit = runner.commitTransaction.bind(runner);
      runner.commitTransaction = async () => {
        await commit();
        inCommitHook.hostActive = host.isTransactionActive();
        inCommitHook.manager = source!.currentManager();
      };
    });
    seen.inCommitHook = inCommitHook;

    seen.decorated = await service.addAndLook('decorated');
    seen.afterDecorated = source.currentManager();

    seen.nested = await host.withTransaction(async () => {
      const outer = source!.currentManager();
      const inner = await host.withTransaction(Propagation.Nested, async () =>
        source!.currentManager(),
      );
      const requiresNew = await host.withTransaction(
        Propagation.RequiresNew,
        async () => source!.currentManager(),
      );
      return {
        innerIsOuter: inner === outer,
        innerSameQueryRunner: inner?.queryRunner === outer?.queryRunner,
        requiresNewSameQueryRunner:
          requiresNew?.queryRunner === outer?.queryRunner,
        notSupported: await service.outside(),
        outerAgain: source!.currentManager() === outer,
        stillActive: outer?.queryRunner?.isTransactionActive === true,
      };
    });

    let inRolledBack: EntityManager | null = null;
    await host
      .withTransaction(async () => {
        await host.tx.getRepository(NoteSchema).save({ label: 'rolled-back' });
        inRolledBack = source!.currentManager();
        throw new Error('boom');
      })
      .catch(() => undefined);
    seen.rollback = {
      hadManager: inRolledBack !== null,
      managerAfter: source.currentManager(),
      persisted: await countLabel(observer.manager, 'rolled-back'),
    };
    return seen;
  } finally {
    await app.close();
  }
}

async function unregisteredApp(): Promise<Record<string, unknown>> {
  const testing = await Test.createTestingModule({
    imports: [TypeOrmModule.forRoot({ ...POSTGRES_CONNECTION })],
  }).compile();
  const app = await testing.init();
  try {
    const throwing = await createClsTransactionSource(
      (token) => app.get(token as string, { strict: false }),
      true,
    );
    const undefinedProvider = await createClsTransactionSource(
      () => undefined,
      true,
    );
    return {
      registersNoHost: !registersProviderClass(
        app.get(ModulesContainer),
        'TransactionHost',
      ),
      throwingResolverGivesNull: throwing === null,
      undefinedProviderGivesNull: undefinedProvider === null,
    };
  } finally {
    await app.close();
  }
}

// ---------------------------------------------------------------------------
// The whole chain: TasksModule + ClsPluginTransactional.
// ---------------------------------------------------------------------------

/**
 * Records, when a held enqueue reaches the DummyBackend, how many orders
 * another connection sees committed: the transaction's order is committed by
 * then only if the dispatch runs after COMMIT.
 */
@Injectable()
class DispatchWatcher {
  readonly seen: { id: string; ordersCommitted: number }[] = [];

  @OnTaskEvent('enqueued')
  async record({ result }: TaskEvent): Promise<void> {
    if (result.backend !== 'held') return;
    const rows: { n: number }[] = await observer.query(
      `SELECT count(*)::int AS n FROM ${CHAIN_ORDERS}`,
    );
    this.seen.push({ id: result.id, ordersCommitted: rows[0].n });
  }
}

/** Runs callbacks under @nestjs-cls/transactional's decorator. */
@Injectable()
class Checkout {
  constructor(readonly host: TransactionHost<TransactionalAdapterTypeOrm>) {}

  @Transactional()
  required<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }

  @Transactional(Propagation.Nested)
  nested<T>(work: () => Promise<T>): Promise<T> {
    return work();
  }
}

/** Provides an already migrated DataSource to the whole app. */
@Module({})
class DataSourceModule {
  static of(dataSource: DataSource): DynamicModule {
    return {
      module: DataSourceModule,
      global: true,
      providers: [{ provide: DataSource, useValue: dataSource }],
      exports: [DataSource],
    };
  }
}

class Rollback extends Error {}

/** Runs one step; a step that throws is reported, not fatal. */
async function step(
  work: () => Promise<Record<string, unknown>>,
): Promise<Record<string, unknown>> {
  try {
    return await work();
  } catch (error) {
    return { error: (error as Error)?.stack ?? String(error) };
  }
}

/** How `promise` failed: the error's class name, or 'resolved'. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return (error as Error)?.constructor?.name ?? String(error);
  }
}

async function chainApp(): Promise<Record<string, unknown>> {
  const dataSource = new DataSource({
    ...POSTGRES_CONNECTION,
    migrations: createTaskMigrations(CHAIN_TABLE),
    migrationsTableName: `${CHAIN_TABLE}_migrations`,
  });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations({ transaction: 'each' });
    await dataSource.query(
      `CREATE TABLE ${CHAIN_ORDERS} (id integer NOT NULL)`,
    );
    return await chainCases(dataSource);
  } finally {
    for (const table of [
      CHAIN_ORDERS,
      `${CHAIN_TABLE}_outbox`,
      `${CHAIN_TABLE}_schedules`,
      `${CHAIN_TABLE}_workers`,
      CHAIN_TABLE,
      `${CHAIN_TABLE}_migrations`,
    ])
      await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
    await dataSource.destroy();
  }
}

async function chainCases(
  dataSource: DataSource,
): Promise<Record<string, unknown>> {
  const app = await (
    await Test.createTestingModule({
      imports: [
        DataSourceModule.of(dataSource),
        ClsModule.forRoot({
          plugins: [
            new ClsPluginTransactional({
              adapter: new TransactionalAdapterTypeOrm({
                dataSourceToken: DataSource,
              }),
            }),
          ],
        }),
        TasksModule.forRoot({
          backends: {
            default: {
              backend: DatabaseBackend,
              queues: [],
              options: { tableName: CHAIN_TABLE },
            },
            held: { backend: DummyBackend, queues: [] },
          },
        }),
      ],
      providers: [ChainTasks, DispatchWatcher, Checkout],
    }).compile()
  ).init();
  try {
    const queue = app.get(TaskQueue);
    const held = queue.backend('held') as DummyBackend;
    const watcher = app.get(DispatchWatcher);
    const checkout = app.get(Checkout);
    const host: Host = app.get(TransactionHost, { strict: false });
    const transactions = app.get(TaskTransactions, { strict: false });

    const insertOrder = () =>
      host.tx.query(`INSERT INTO ${CHAIN_ORDERS} (id) VALUES (1)`);
    const committedOrders = async () =>
      (
        (await observer.query(
          `SELECT count(*)::int AS n FROM ${CHAIN_ORDERS}`,
        )) as { n: number }[]
      )[0].n;
    const taskRows = async (manager: EntityManager, id: string) =>
      (
        (await manager.query(
          `SELECT count(*)::int AS n FROM ${CHAIN_TABLE} WHERE id = $1`,
          [id],
        )) as { n: number }[]
      )[0].n;
    const heldArgs = () =>
      held.results.map((result) => result.args[0] as number).sort();
    const reset = async () => {
      held.clear();
      watcher.seen.length = 0;
      await observer.query(`DELETE FROM ${CHAIN_ORDERS}`);
      await observer.query(`DELETE FROM ${CHAIN_TABLE}`);
    };

    type Run = <T>(work: () => Promise<T>) => Promise<T>;
    const ways: Record<string, Run> = {
      withTransaction: (work) => host.withTransaction(work),
      decorated: (work) => checkout.required(work),
    };
    const nestedWays: Record<string, Run> = {
      withTransaction: (work) => host.withTransaction(Propagation.Nested, work),
      decorated: (work) => checkout.nested(work),
    };

    const seen: Record<string, unknown> = {
      sources: (
        transactions as unknown as { sources: AmbientTransactionSource[] }
      ).sources.map((source) => source.name),
    };

    for (const [way, run] of Object.entries(ways)) {
      const nested = nestedWays[way];
      const cases: Record<string, unknown> = {};
      seen[way] = cases;

      await reset();
      cases.heldCommit = await step(async () => {
        const inside: Record<string, unknown> = {};
        let id = '';
        await run(async () => {
          await insertOrder();
          const result = await queue.enqueue(ChainTasks, 'held', 7);
          id = result.id;
          inside.hasId = typeof id === 'string' && id.length > 0;
          inside.status = result.status;
          inside.dispatched = held.results.length;
          inside.getResult = await failure(queue.getResult(id, 'held'));
          inside.ordersCommitted = await committedOrders();
        });
        return {
          inside,
          dispatched: held.results.map((result) => ({
            sameId: result.id === id,
            args: result.args,
          })),
          // When it reached the backend, was the transaction's order committed?
          atDispatch: watcher.seen.map((entry) => ({
            sameId: entry.id === id,
            ordersCommitted: entry.ordersCommitted,
          })),
          statusAfter: (await queue.getResult(id, 'held')).status,
        };
      });

      await reset();
      cases.heldRollback = await step(async () => ({
        outcome: await failure(
          run(async () => {
            await insertOrder();
            await queue.enqueue(ChainTasks, 'held', 1);
            throw new Rollback();
          }),
        ),
        dispatched: held.results.length,
        atDispatch: watcher.seen.length,
        ordersCommitted: await committedOrders(),
      }));

      await reset();
      cases.databaseCommit = await step(async () => {
        const inside: Record<string, unknown> = {};
        let id = '';
        await run(async () => {
          const result = await queue.enqueue(ChainTasks, 'outbox', 1);
          id = result.id;
          inside.status = result.status;
          inside.rowsInTransaction = await taskRows(host.tx, id);
          inside.rowsElsewhere = await taskRows(observer.manager, id);
        });
        return {
          inside,
          rowsElsewhere: await taskRows(observer.manager, id),
          statusAfter: (await queue.getResult(id)).status,
        };
      });

      await reset();
      cases.databaseRollback = await step(async () => {
        let id = '';
        let rowsInTransaction = -1;
        const outcome = await failure(
          run(async () => {
            id = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
            rowsInTransaction = await taskRows(host.tx, id);
            throw new Rollback();
          }),
        );
        return {
          outcome,
          rowsInTransaction,
          rowsElsewhere: await taskRows(observer.manager, id),
          getResult: await failure(queue.getResult(id)),
        };
      });

      await reset();
      cases.nestedInnerRollback = await step(async () => {
        let sameRunner = false;
        let innerOutcome = '';
        let dispatchedInside = -1;
        let outboxOuter = '';
        let outboxInner = '';
        await run(async () => {
          const outerRunner = host.tx.queryRunner;
          await queue.enqueue(ChainTasks, 'held', 1);
          outboxOuter = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
          innerOutcome = await failure(
            nested(async () => {
              sameRunner = host.tx.queryRunner === outerRunner;
              await queue.enqueue(ChainTasks, 'held', 2);
              outboxInner = (await queue.enqueue(ChainTasks, 'outbox', 2)).id;
              throw new Rollback();
            }),
          );
          await queue.enqueue(ChainTasks, 'held', 3);
          dispatchedInside = held.results.length;
        });
        return {
          sameRunner,
          innerOutcome,
          dispatchedInside,
          dispatched: heldArgs(),
          outerRow: await taskRows(observer.manager, outboxOuter),
          innerRow: await taskRows(observer.manager, outboxInner),
        };
      });

      await reset();
      cases.nestedInnerCommitOuterRollback = await step(async () => {
        let afterInnerCommit = -1;
        let innerRowBeforeOuterEnds = -1;
        let innerRow = '';
        const outcome = await failure(
          run(async () => {
            await nested(async () => {
              await queue.enqueue(ChainTasks, 'held', 1);
              innerRow = (await queue.enqueue(ChainTasks, 'outbox', 1)).id;
            });
            afterInnerCommit = held.results.length;
            innerRowBeforeOuterEnds = await taskRows(
              observer.manager,
              innerRow,
            );
            throw new Rollback();
          }),
        );
        return {
          outcome,
          afterInnerCommit,
          innerRowBeforeOuterEnds,
          dispatched: held.results.length,
          innerRow: await taskRows(observer.manager, innerRow),
        };
      });

      await reset();
      cases.nestedInnerCommitOuterCommit = await step(async () => {
        let afterInnerCommit = -1;
        await run(async () => {
          await nested(async () => {
            await queue.enqueue(ChainTasks, 'held', 1);
          });
          afterInnerCommit = held.results.length;
        });
        return { afterInnerCommit, dispatched: heldArgs() };
      });
    }

    await reset();
    seen.outside = await step(async () => {
      await queue.enqueue(ChainTasks, 'held', 9);
      return { dispatched: held.results.length };
    });
    return seen;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  observer = await new DataSource(POSTGRES_CONNECTION).initialize();
  try {
    await observer.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await observer.query(
      `CREATE TABLE ${TABLE} (id serial PRIMARY KEY, label text NOT NULL)`,
    );
    const registered = await registeredApp();
    const unregistered = await unregisteredApp();
    const chain = await step(chainApp);
    process.stdout.write(
      `${JSON.stringify({ registered, unregistered, chain })}\n`,
    );
  } finally {
    await observer.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await observer.destroy();
  }
}

await main();
