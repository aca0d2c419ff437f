import { Injectable } from '@nestjs/common';
import {
  DataSource,
  type DataSourceOptions,
  type Logger as TypeOrmLogger,
} from 'typeorm';
import {
  DatabaseBackend,
  Task,
  TaskQueue,
  TaskRecord,
  TaskResultStatus,
  TaskWorkerRecord,
} from '../../lib/index.js';
import { dialectFor } from '../../lib/backends/database/dialects/index.js';
import { SCHEMA_0_1 } from '../../lib/backends/database/migrations/released-schema-0.1.js';
import { openDatabaseOutboxStore } from '../../lib/backends/database/database-outbox-store.js';
import { synchronizeTaskTables } from '../../lib/backends/database/synchronize-task-tables.js';
import { DEFAULT_TABLES } from '../../lib/backends/database/task-tables.js';
import {
  availableDatabases,
  createPrivateDatabase,
  uniqueTableName,
  type PrivateDatabase,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

@Injectable()
class SyncTasks {
  @Task({ priority: 5 })
  async double(n: number): Promise<number> {
    return n * 2;
  }
}

/** Counts failed statements (a concurrent CREATE that lost the race fails one). */
class FailureCounter implements TypeOrmLogger {
  failures = 0;
  logQuery(): void {}
  logQueryError(): void {
    this.failures += 1;
  }
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/**
 * The entities alone (no migrations) with `synchronize: true`, on the default
 * table names, in a namespace of the suite's own. TypeORM leaves the task
 * tables alone; the DatabaseBackend creates them with the migrations' DDL.
 */
describe.each(availableDatabases())(
  'synchronize: true on $name',
  (db: TestDatabase) => {
    let namespace: PrivateDatabase | undefined;
    const dataSources: DataSource[] = [];

    const open = async (extra: Partial<DataSourceOptions> = {}) => {
      const ds = new DataSource({
        ...namespace!.options,
        entities: [TaskRecord, TaskWorkerRecord],
        synchronize: true,
        logging: false,
        ...extra,
      } as DataSourceOptions);
      dataSources.push(ds);
      return ds.initialize();
    };

    const existing = async (ds: DataSource) => {
      const runner = ds.createQueryRunner();
      try {
        const dialect = dialectFor(ds);
        const found: string[] = [];
        for (const table of Object.values(DEFAULT_TABLES))
          if (await dialect.hasTable(runner, table)) found.push(table);
        return found;
      } finally {
        await runner.release();
      }
    };

    beforeEach(async () => {
      namespace = await createPrivateDatabase(db, uniqueTableName('t_sync'));
    });

    afterEach(async () => {
      for (const ds of dataSources.splice(0))
        if (ds.isInitialized) await ds.destroy();
      await namespace?.drop();
    });

    it('creates tables a DatabaseBackend can enqueue to, run from and check', async () => {
      const ds = await open();
      let firstId: string;
      // TypeORM's synchronize (and migration:generate) never plans the task tables.
      const plan = async () =>
        (await ds.driver.createSchemaBuilder().log()).upQueries.map(
          (query) => query.query,
        );
      expect(await plan()).toEqual([]);
      expect(await existing(ds)).toEqual([]);

      const moduleRef = await bootTasksApp({
        backends: {
          default: { backend: DatabaseBackend, options: { dataSource: ds } },
        },
        providers: [SyncTasks],
        logger: true,
      });
      try {
        const queue = moduleRef.get(TaskQueue);
        expect(await queue.backend().check()).toEqual([]);
        expect(await existing(ds)).toEqual(Object.values(DEFAULT_TABLES));
        const results = await queue
          .task(SyncTasks, 'double')
          .enqueueMany([[1], [2], [3]]);
        expect(await batchWorker(moduleRef).run()).toBe('drained');
        for (const result of results) await result.refresh();
        expect(
          results.map((result) => [result.status, result.returnValue]),
        ).toEqual([
          [TaskResultStatus.SUCCESSFUL, 2],
          [TaskResultStatus.SUCCESSFUL, 4],
          [TaskResultStatus.SUCCESSFUL, 6],
        ]);
        firstId = results[0].id;
        // A second synchronize finds nothing to change.
        expect(await plan()).toEqual([]);
        await ds.synchronize();
      } finally {
        await moduleRef.close();
      }

      // Another start keeps the tables and their rows.
      const moduleRef2 = await bootTasksApp({
        backends: {
          default: { backend: DatabaseBackend, options: { dataSource: ds } },
        },
        providers: [SyncTasks],
      });
      try {
        const queue = moduleRef2.get(TaskQueue);
        expect(await queue.backend().check()).toEqual([]);
        expect((await queue.getResult(firstId)).returnValue).toBe(2);
      } finally {
        await moduleRef2.close();
      }
    });

    it('creates only the tables that are missing: tables of an earlier version get the schedules and outbox tables', async () => {
      const ds = await open();
      const runner = ds.createQueryRunner();
      try {
        for (const statement of dialectFor(ds).createTablesSql(
          DEFAULT_TABLES,
          SCHEMA_0_1,
        ))
          await runner.query(statement);
      } finally {
        await runner.release();
      }
      expect(await existing(ds)).toEqual([
        DEFAULT_TABLES.tasks,
        DEFAULT_TABLES.workers,
      ]);
      await synchronizeTaskTables(ds, dialectFor(ds), DEFAULT_TABLES);
      expect(await existing(ds)).toEqual(Object.values(DEFAULT_TABLES));
    });

    it('an outbox on a DataSource without a DatabaseBackend creates its own table alone', async () => {
      const ds = await open();
      const store = await openDatabaseOutboxStore(ds, undefined, 'The outbox');
      try {
        expect(await existing(ds)).toEqual([DEFAULT_TABLES.outbox]);
        expect(await store.lag()).toBeNull();
        expect(store.table).toEqual({
          name: DEFAULT_TABLES.outbox,
          tasksTable: DEFAULT_TABLES.tasks,
          migration: 'NestjsTaskOutbox1796300000000',
        });
      } finally {
        await store.close();
      }
    });

    it('creates nothing without synchronize', async () => {
      const ds = await open({ synchronize: false });
      await synchronizeTaskTables(ds, dialectFor(ds), DEFAULT_TABLES);
      expect(await existing(ds)).toEqual([]);
    });

    it('lets processes that start at once all open, whichever creates the tables', async () => {
      const logger = new FailureCounter();
      const starting = await Promise.all(
        Array.from({ length: 4 }, () => open({ logger })),
      );
      // Each process first finds every table missing, as when they start at
      // the same instant, so that every one of them tries to create them.
      const racing = (ds: DataSource) => {
        const dialect = dialectFor(ds);
        const hasTable = dialect.hasTable.bind(dialect);
        let checks = 0;
        dialect.hasTable = async (runner, table) =>
          ++checks <= Object.keys(DEFAULT_TABLES).length
            ? false
            : hasTable(runner, table);
        return dialect;
      };
      await Promise.all(
        starting.map((ds) =>
          synchronizeTaskTables(ds, racing(ds), DEFAULT_TABLES),
        ),
      );
      expect(await existing(starting[0])).toEqual(
        Object.values(DEFAULT_TABLES),
      );
      // The race was run: at least one CREATE lost it, and was forgiven.
      expect(logger.failures).toBeGreaterThan(0);
    });
  },
);
