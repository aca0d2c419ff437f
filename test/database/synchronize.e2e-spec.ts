import { Injectable } from '@nestjs/common';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  DatabaseBackend,
  Task,
  TaskQueue,
  TaskRecord,
  TaskResultStatus,
  TaskWorkerRecord,
} from '../../lib/index.js';
import { availableDatabases, type TestDatabase } from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

@Injectable()
class SyncTasks {
  @Task({ priority: 5 })
  async double(n: number): Promise<number> {
    return n * 2;
  }
}

const DEFAULT_TABLES = ['nestjs_task_workers', 'nestjs_tasks'];

/** The entities alone (no migrations) with `synchronize: true`, on the default table names. */
describe.each(availableDatabases())(
  'synchronize: true on $name',
  (db: TestDatabase) => {
    const sqliteFile = join(
      tmpdir(),
      `nestjs-tasks-sync-${process.pid}.sqlite`,
    );
    const options: DataSourceOptions =
      db.name === 'sqlite'
        ? { type: 'better-sqlite3', database: sqliteFile }
        : db.options;

    const dropDefaultTables = async () => {
      const ds = new DataSource(options);
      await ds.initialize();
      for (const table of DEFAULT_TABLES)
        await ds.query(`DROP TABLE IF EXISTS ${table}`);
      await ds.destroy();
    };

    beforeAll(dropDefaultTables);
    afterAll(async () => {
      await dropDefaultTables();
      for (const suffix of ['', '-wal', '-shm'])
        rmSync(`${sqliteFile}${suffix}`, { force: true });
    });

    it('creates tables a DatabaseBackend can enqueue to, run from and check', async () => {
      const ds = new DataSource({
        ...options,
        entities: [TaskRecord, TaskWorkerRecord],
        synchronize: true,
      });
      await ds.initialize();
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
        // A second synchronize finds nothing to change.
        const pending = await ds.driver.createSchemaBuilder().log();
        expect(pending.upQueries.map((query) => query.query)).toEqual([]);
      } finally {
        await moduleRef.close();
        await ds.destroy();
      }
    });
  },
);
