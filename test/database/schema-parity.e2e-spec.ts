import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  TaskOutboxRecord,
  TaskQueue,
  TaskRecord,
  TaskScheduleRecord,
  TaskWorkerRecord,
  taskMigrations,
} from '../../lib/index.js';
import {
  OUTBOX_COLUMNS,
  SCHEDULE_COLUMNS,
  TASK_COLUMNS,
  WORKER_COLUMNS,
} from '../../lib/backends/database/task-columns.js';
import { DEFAULT_TABLES } from '../../lib/backends/database/task-tables.js';
import {
  availableDatabases,
  createPrivateDatabase,
  uniqueTableName,
  type PrivateDatabase,
  type TestDatabase,
} from '../support/databases.js';
import { describeTables } from '../support/schema-introspection.js';
import { bootTasksApp } from '../support/tasks-app.js';

const TABLES = [
  DEFAULT_TABLES.tasks,
  DEFAULT_TABLES.workers,
  DEFAULT_TABLES.schedules,
  DEFAULT_TABLES.outbox,
];

/**
 * The tables an application gets with `synchronize: true` (the entities
 * registered, a DatabaseBackend opening the DataSource) are exactly those
 * `taskMigrations` create: same columns, types, nullability, constraints and
 * indexes. Each schema is made under the default names in a namespace of
 * its own, so the comparison is of the database's own description, verbatim.
 */
describe.each(availableDatabases())(
  'task schema parity on $name',
  (db: TestDatabase) => {
    const namespaces: PrivateDatabase[] = [];
    const dataSources: DataSource[] = [];

    const open = async (options: Partial<DataSourceOptions>) => {
      const namespace = await createPrivateDatabase(
        db,
        uniqueTableName('t_schema'),
      );
      namespaces.push(namespace);
      const ds = new DataSource({
        ...namespace.options,
        ...options,
        logging: false,
      } as DataSourceOptions);
      dataSources.push(ds);
      return ds.initialize();
    };

    afterAll(async () => {
      for (const ds of dataSources) if (ds.isInitialized) await ds.destroy();
      for (const namespace of namespaces) await namespace.drop();
    });

    it('synchronize: true creates exactly the tables taskMigrations create', async () => {
      const synchronized = await open({
        entities: [
          TaskRecord,
          TaskWorkerRecord,
          TaskScheduleRecord,
          TaskOutboxRecord,
        ],
        synchronize: true,
      });
      const moduleRef = await bootTasksApp({ dataSource: synchronized });
      try {
        // Opens the backend, which creates what synchronize left to it.
        expect(await moduleRef.get(TaskQueue).backend().check()).toEqual([]);
      } finally {
        await moduleRef.close();
      }

      const migrated = await open({ migrations: taskMigrations });
      await migrated.runMigrations({ transaction: 'each' });

      const expected = await describeTables(db.name, migrated, TABLES);
      // The description is not vacuous: it names every column (a stand-in
      // for a partial index only where indexes cannot be partial).
      const text = JSON.stringify(expected);
      for (const column of [
        ...TASK_COLUMNS,
        ...WORKER_COLUMNS,
        ...SCHEDULE_COLUMNS,
        ...OUTBOX_COLUMNS,
      ])
        if (!('standsInFor' in column) || db.name === 'mariadb')
          expect(text).toContain(`"${column.name}"`);
      expect(await describeTables(db.name, synchronized, TABLES)).toEqual(
        expected,
      );
    });
  },
);
