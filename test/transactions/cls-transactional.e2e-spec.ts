/**
 * createClsTransactionSource() with nestjs-cls + @nestjs-cls/transactional +
 * the TypeORM adapter, against a real PostgreSQL (127.0.0.1:5432, user
 * postgres, database test); then the whole chain: TasksModule (DatabaseBackend
 * + DummyBackend) and TaskQueue.enqueue inside withTransaction() and
 * @Transactional(), including Propagation.Nested savepoints.
 *
 * The Nest part runs in a child Node process (cls-transactional.scenario.ts
 * and the whole current lib/, transpiled here): those packages are CommonJS
 * and `require()` the ESM NestJS 12 packages, which Jest's module loader only
 * supports on Node 24.9+.
 * This file asserts on the observations the child prints.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { DataSource } from 'typeorm';
import { createClsTransactionSource } from '../../lib/transactions/cls-transaction.source.js';
import { POSTGRES_CONNECTION } from '../support/transaction-chain.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = resolve(ROOT, '.test-build/transactions-cls');
const TABLE = 'nestjs_tasks_tx_cls_transactional';
/** The chain's tables: `<CHAIN>`, `<CHAIN>_workers`, `<CHAIN>_schedules`, `<CHAIN>_outbox`, `<CHAIN>_migrations`, `<CHAIN>_orders`. */
const CHAIN = `nestjs_tasks_tx_cls_chain_${randomBytes(4).toString('hex')}`;
const SCENARIO = 'test/transactions/cls-transactional.scenario.ts';
/** What the scenario imports from test/support. */
const SCENARIO_SUPPORT = ['test/support/transaction-chain.ts'];

/** Every library source (not its unit tests): the scenario runs the current lib/. */
async function libraryFiles(): Promise<string[]> {
  const entries = await readdir(resolve(ROOT, 'lib'), { recursive: true });
  return entries
    .filter((entry) => entry.endsWith('.ts') && !entry.endsWith('.spec.ts'))
    .map((entry) => join('lib', entry));
}

/**
 * Transpiles the scenario, its support files and the whole lib/ to OUT, keeping their layout
 * (no type check: `tsc --noEmit` covers that). OUT is emptied first, so a
 * file removed from lib/ cannot linger there.
 */
async function buildScenario(): Promise<string> {
  await rm(OUT, { recursive: true, force: true });
  for (const file of [
    ...(await libraryFiles()),
    ...SCENARIO_SUPPORT,
    SCENARIO,
  ]) {
    const { outputText } = ts.transpileModule(
      await readFile(resolve(ROOT, file), 'utf8'),
      {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.ES2022,
          target: ts.ScriptTarget.ES2022,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          useDefineForClassFields: false,
        },
      },
    );
    const out = resolve(OUT, file.replace(/\.ts$/, '.js'));
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, outputText);
  }
  return resolve(OUT, SCENARIO.replace(/\.ts$/, '.js'));
}

async function runScenario(entry: string): Promise<any> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [entry, TABLE, CHAIN],
    {
      cwd: ROOT,
      // Not Jest's --experimental-vm-modules: a plain Node process.
      env: { ...process.env, NODE_OPTIONS: '' },
      timeout: 60_000,
    },
  );
  const last = stdout.trim().split('\n').pop()!;
  return JSON.parse(last);
}

/** What the scenario's `look()` sees inside a transaction that saved a note: its manager, on its connection. */
const ON_THE_TRANSACTION = {
  hasManager: true,
  isTx: true,
  active: true,
  samePid: true,
  visibleHere: 1,
  visibleElsewhere: 0,
};

describe('createClsTransactionSource (@nestjs-cls/transactional, PostgreSQL)', () => {
  let seen: any;

  beforeAll(async () => {
    seen = await runScenario(await buildScenario());
  }, 90_000);

  afterAll(async () => {
    // The child drops its table; this covers a child that crashed.
    const cleanup = await new DataSource(POSTGRES_CONNECTION).initialize();
    try {
      for (const table of [
        TABLE,
        `${CHAIN}_orders`,
        `${CHAIN}_outbox`,
        `${CHAIN}_schedules`,
        `${CHAIN}_workers`,
        CHAIN,
        `${CHAIN}_migrations`,
      ])
        await cleanup.query(`DROP TABLE IF EXISTS ${table}`);
    } finally {
      await cleanup.destroy();
    }
  });

  describe('with the plugin registered', () => {
    it('creates a source named after the package', () => {
      expect(seen.registered.created).toBe(true);
      expect(seen.registered.name).toBe('@nestjs-cls/transactional');
    });

    it('has no manager outside a transaction', () => {
      expect(seen.registered.outside).toBeNull();
    });

    it('gives the withTransaction() manager, on the transaction connection', () => {
      expect(seen.registered.withTransaction).toEqual(ON_THE_TRANSACTION);
      expect(seen.registered.afterCommit).toEqual({
        manager: null,
        visibleElsewhere: 1,
      });
    });

    it('has none once COMMIT has finished, though the host still reports the transaction', () => {
      expect(seen.registered.inCommitHook).toEqual({
        hostActive: true,
        manager: null,
      });
    });

    it('gives the @Transactional() manager, and none after it', () => {
      expect(seen.registered.decorated).toEqual(ON_THE_TRANSACTION);
      expect(seen.registered.afterDecorated).toBeNull();
    });

    it('gives the same manager under Nested (a SAVEPOINT), a new one under RequiresNew, none under NotSupported', () => {
      expect(seen.registered.nested).toEqual({
        innerIsOuter: true,
        innerSameQueryRunner: true,
        requiresNewSameQueryRunner: false,
        notSupported: null,
        outerAgain: true,
        stillActive: true,
      });
    });

    it('has none after a rollback', () => {
      expect(seen.registered.rollback).toEqual({
        hadManager: true,
        managerAfter: null,
        persisted: 0,
      });
    });

    it('finds the same host as the static TransactionHost.getInstance()', () => {
      expect(seen.registered.getInstanceIsHost).toBe(true);
    });
  });

  describe('without the plugin', () => {
    it('is null when the app registered no TransactionHost', () => {
      expect(seen.unregistered).toEqual({
        registersNoHost: true,
        throwingResolverGivesNull: true,
        undefinedProviderGivesNull: true,
      });
    });
  });

  describe('the whole chain: TasksModule (the compiled lib/) inside @nestjs-cls/transactional transactions', () => {
    it('ran without a step failing', () => {
      expect(JSON.stringify(seen.chain)).not.toContain('"error"');
    });

    it('TasksModule found the CLS source itself (TaskTransactions.onModuleInit)', () => {
      expect(seen.chain.sources).toEqual(['@nestjs-cls/transactional']);
    });

    it('outside any transaction, a held-backend enqueue is dispatched at once', () => {
      expect(seen.chain.outside).toEqual({ dispatched: 1 });
    });

    describe.each([
      ['host.withTransaction()', 'withTransaction'],
      ['@Transactional()', 'decorated'],
    ])('inside %s', (_label, way) => {
      const cases = () => seen.chain[way];

      it('held backend, commit: dispatched once, after COMMIT; the result has its id and READY at once', () => {
        expect(cases().heldCommit).toEqual({
          inside: {
            hasId: true,
            status: 'READY',
            dispatched: 0,
            getResult: 'TaskResultDoesNotExistError',
            ordersCommitted: 0,
          },
          dispatched: [{ sameId: true, args: [7] }],
          // The enqueued event saw the transaction's order committed.
          atDispatch: [{ sameId: true, ordersCommitted: 1 }],
          statusAfter: 'READY',
        });
      });

      it('held backend, rollback: nothing is dispatched', () => {
        expect(cases().heldRollback).toEqual({
          outcome: 'Rollback',
          dispatched: 0,
          atDispatch: 0,
          ordersCommitted: 0,
        });
      });

      it('DatabaseBackend on the same DataSource, commit: the row is written in the transaction, unseen elsewhere until COMMIT', () => {
        expect(cases().databaseCommit).toEqual({
          inside: { status: 'READY', rowsInTransaction: 1, rowsElsewhere: 0 },
          rowsElsewhere: 1,
          statusAfter: 'READY',
        });
      });

      it('DatabaseBackend on the same DataSource, rollback: no row', () => {
        expect(cases().databaseRollback).toEqual({
          outcome: 'Rollback',
          rowsInTransaction: 1,
          rowsElsewhere: 0,
          getResult: 'TaskResultDoesNotExistError',
        });
      });

      it('Propagation.Nested (a SAVEPOINT on the same QueryRunner): an inner rollback drops only its own enqueues, the outer commit dispatches the rest', () => {
        expect(cases().nestedInnerRollback).toEqual({
          sameRunner: true,
          innerOutcome: 'Rollback',
          dispatchedInside: 0,
          dispatched: [1, 3],
          outerRow: 1,
          innerRow: 0,
        });
      });

      it('Propagation.Nested: an inner commit (RELEASE SAVEPOINT) dispatches nothing; an outer rollback then drops it all', () => {
        expect(cases().nestedInnerCommitOuterRollback).toEqual({
          outcome: 'Rollback',
          afterInnerCommit: 0,
          innerRowBeforeOuterEnds: 0,
          dispatched: 0,
          innerRow: 0,
        });
      });

      it('Propagation.Nested: an inner commit is dispatched by the outer commit', () => {
        expect(cases().nestedInnerCommitOuterCommit).toEqual({
          afterInnerCommit: 0,
          dispatched: [1],
        });
      });
    });
  });

  describe('in this Jest process', () => {
    it('resolves to null, never throws, when the host cannot be had', async () => {
      // Under Jest on Node < 24.9 the package cannot even be loaded; either
      // way there is no TransactionHost here.
      await expect(
        createClsTransactionSource(() => {
          throw new Error('no such provider');
        }, true),
      ).resolves.toBeNull();
      await expect(
        createClsTransactionSource(() => undefined, true),
      ).resolves.toBeNull();
    });
  });
});
