import type { TestingModule } from '@nestjs/testing';
import type { DataSource, DataSourceOptions } from 'typeorm';
import {
  InvalidTaskBackendError,
  TaskQueue,
  TaskResultStatus,
} from '../../lib/index.js';
import { ConformanceTasks } from '../fixtures/conformance.fixtures.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** What an enqueue that fails says: the real cause, distinct from missing tables. */
describe.each(availableDatabases())(
  'enqueue errors on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_enqueue_err');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [ConformanceTasks],
      });
      queue = moduleRef.get(TaskQueue);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    // SQLite stores what the others refuse (no packet limit, no NUL check).
    (db.name === 'sqlite' ? it.skip : it)(
      'names data the database refuses, without blaming the tables',
      async () => {
        // MariaDB: larger than max_allowed_packet; PostgreSQL: a NUL character, which its text cannot hold.
        const enqueue = () =>
          db.name === 'mariadb'
            ? queue.enqueue(ConformanceTasks, 'record', 'x'.repeat(17 << 20))
            : queue
                .task(ConformanceTasks, 'record')
                .using({ queueName: 'a\u0000b' })
                .enqueue('nul');
        await expect(enqueue()).rejects.toThrow(InvalidTaskBackendError);
        await expect(enqueue()).rejects.toThrow(
          /the database refused 1 enqueue\(s\) of task 'ConformanceTasks.record'.*nothing was stored/s,
        );
        await expect(enqueue()).rejects.not.toThrow(/taskMigrations/);
      },
      60_000,
    );

    // A server connection to cut: not SQLite.
    (db.name === 'sqlite' ? it.skip : it)(
      'names an unreachable database, without blaming the tables',
      async () => {
        const { port } = db.options as { port: number };
        const proxy = await TcpProxy.start(port);
        const viaProxy = await connectTestDataSource(db, table, {
          host: '127.0.0.1',
          port: proxy.port,
        } as Partial<DataSourceOptions>);
        const app = await bootTasksApp({
          dataSource: viaProxy,
          tableName: table,
          providers: [ConformanceTasks],
        });
        try {
          const tasks = app.get(TaskQueue);
          await tasks.enqueue(ConformanceTasks, 'record', 'before');
          proxy.cut();
          const failed = tasks.enqueue(ConformanceTasks, 'record', 'during');
          await expect(failed).rejects.toThrow(InvalidTaskBackendError);
          await expect(failed).rejects.toThrow(
            /could not be stored: .*Check that the database is reachable; nothing was stored/s,
          );
          await expect(failed).rejects.not.toThrow(/taskMigrations/);
          proxy.restore();
        } finally {
          await app.close();
          await viaProxy.destroy();
          await proxy.close();
        }
      },
      60_000,
    );

    it('lets a --batch worker wait for a retry due within its polling interval', async () => {
      const result = await queue.enqueue(ConformanceTasks, 'failOnceSoon', 'r');
      expect(await batchWorker(moduleRef, { intervalMs: 1000 }).run()).toBe(
        'drained',
      );
      await result.refresh();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.attempts).toBe(2);
    });
  },
);
