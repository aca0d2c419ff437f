import { DataSource, type DataSourceOptions } from 'typeorm';
import {
  Task,
  TaskQueue,
  TaskRecord,
  TaskScheduleRecord,
  TaskResultStatus,
  TaskWorkerRecord,
  taskMigrations,
} from '../../lib/index.js';
import { Injectable } from '@nestjs/common';
import { SCHEMA_0_1 } from '../../lib/backends/database/migrations/released-schema-0.1.js';
import { DEFAULT_TABLES } from '../../lib/backends/database/task-tables.js';
import { encodeNewRow } from '../../lib/backends/database/task-row.js';
import {
  availableDatabases,
  createPrivateDatabase,
  uniqueTableName,
  type PrivateDatabase,
  type TestDatabase,
} from '../support/databases.js';
import { describeTables } from '../support/schema-introspection.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { Workers } from '../support/faults.js';
import { waitFor } from '../support/wait.js';
import { readyResult } from '../support/result-data.js';

const TABLES = [
  DEFAULT_TABLES.tasks,
  DEFAULT_TABLES.workers,
  DEFAULT_TABLES.schedules,
  DEFAULT_TABLES.outbox,
];

/**
 * Enqueues of `UpgradeTasks.double`, written as version 0.1.0 wrote them:
 * its columns only, READY even when deferred (`runAfter`).
 */
async function storeReleasedRows(
  db: TestDatabase,
  ds: DataSource,
  args: number[],
  runAfter: Date | null = null,
): Promise<{ id: string }[]> {
  const columns = SCHEMA_0_1.taskColumns
    .filter((column) => column.type !== 'seq')
    .map((column) => column.name);
  const stored: { id: string }[] = [];
  for (const n of args) {
    const row: Record<string, unknown> = encodeNewRow(
      readyResult({ taskName: 'UpgradeTasks.double', args: [n], runAfter }),
    );
    row.status = TaskResultStatus.READY;
    const placeholders = columns.map((_, i) =>
      db.name === 'postgres' ? `$${i + 1}` : '?',
    );
    await ds.query(
      `INSERT INTO ${DEFAULT_TABLES.tasks} (${columns.join(', ')}) VALUES (${placeholders.join(', ')})`,
      columns.map((column) => row[column]),
    );
    stored.push({ id: String(row.id) });
  }
  return stored;
}

@Injectable()
class UpgradeTasks {
  @Task()
  async double(n: number): Promise<number> {
    return 2 * n;
  }

  @Task({ unique: { key: (account: string) => account } })
  async rebuild(account: string): Promise<string> {
    return account;
  }
}

/**
 * An application that created its tables with the migrations 0.1.0 shipped
 * and stored tasks, then upgrades: the appended migrations bring the schema
 * to exactly what a new installation gets, and the stored tasks still run.
 */
describe.each(availableDatabases())(
  'schema upgrade from 0.1.0 on $name',
  (db: TestDatabase) => {
    const namespaces: PrivateDatabase[] = [];
    const dataSources: DataSource[] = [];

    const open = async (
      options: Partial<DataSourceOptions>,
      namespace?: PrivateDatabase,
    ) => {
      namespace ??= await createPrivateDatabase(
        db,
        uniqueTableName('t_upgrade'),
      );
      if (!namespaces.includes(namespace)) namespaces.push(namespace);
      const ds = new DataSource({
        ...namespace.options,
        ...options,
        logging: false,
      } as DataSourceOptions);
      dataSources.push(ds);
      return { ds: await ds.initialize(), namespace };
    };

    afterAll(async () => {
      for (const ds of dataSources) if (ds.isInitialized) await ds.destroy();
      for (const namespace of namespaces) await namespace.drop();
    });

    /** What `check()` says of tables migrated up to the migration whose name starts with `title`. */
    const checkBefore = async (title: string) => {
      const before = taskMigrations.findIndex((Migration) =>
        new Migration().name?.startsWith(title),
      );
      expect(before).toBeGreaterThan(0);
      const { ds } = await open({
        migrations: taskMigrations.slice(0, before),
      });
      await ds.runMigrations({ transaction: 'each' });
      const app = await bootTasksApp({ dataSource: ds });
      try {
        return await app.get(TaskQueue).backend().check();
      } finally {
        await app.close();
      }
    };

    it('tells an application whose tables predate SCHEDULED rows that they are behind', async () => {
      const [behind, ...more] = await checkBefore('NestjsTaskScheduledStatus');
      expect(more).toEqual([]);
      expect(behind.message).toContain('are behind this version');
      expect(behind.message).toContain(
        "index 'nestjs_tasks_scheduled' is missing",
      );
    });

    /** On MySQL/MariaDB only: elsewhere the indexes are partial, and that migration does nothing. */
    it('tells an application whose indexes predate their stand-in columns that they are behind', async () => {
      const problems = await checkBefore('NestjsTaskIndexStandIns');
      if (db.name !== 'mariadb') {
        expect(problems).toEqual([]);
        return;
      }
      const [behind, ...more] = problems;
      expect(more).toEqual([]);
      expect(behind.message).toContain('are behind this version');
      for (const column of [
        'claim_status',
        'finished_status',
        'scheduled_status',
      ])
        expect(behind.message).toContain(
          `column 'nestjs_tasks.${column}' is missing`,
        );
    });

    it('appends migrations that bring a 0.1.0 schema to the current one, keeping its tasks', async () => {
      const released = taskMigrations.slice(0, 1);
      const { ds: old, namespace } = await open({ migrations: released });
      await old.runMigrations({ transaction: 'each' });
      const stored = await storeReleasedRows(db, old, [1, 2, 3]);
      // Deferred past the upgrade: 0.1.0 stored them READY, in its claim index.
      const runAfter = new Date(Date.now() + 5000);
      const deferred = await storeReleasedRows(db, old, [4, 5], runAfter);
      // tasks:check tells the application its schema is behind, and how to fix it.
      const before = await bootTasksApp({
        dataSource: old,
        providers: [UpgradeTasks],
      });
      try {
        const [behind, ...more] = await before.get(TaskQueue).backend().check();
        expect(more).toEqual([]);
        expect(behind.level).toBe('error');
        expect(behind.message).toContain('are behind this version');
        expect(behind.message).toContain('taskMigrations');
        expect(behind.message).toContain(
          "index 'nestjs_tasks_unique' is not unique",
        );
        // Unique tasks need the upgraded schema: refused with the advice to migrate, nothing stored.
        await expect(
          before.get(TaskQueue).enqueue(UpgradeTasks, 'rebuild', 'early'),
        ).rejects.toThrow(/missing or outdated.*taskMigrations/s);
      } finally {
        await before.close();
      }
      await old.destroy();

      const { ds: upgraded } = await open(
        { migrations: taskMigrations },
        namespace,
      );
      const ran = await upgraded.runMigrations({ transaction: 'each' });
      expect(ran.map((migration) => migration.name)).toEqual(
        taskMigrations.slice(1).map((Migration) => new Migration().name),
      );
      expect(Date.now()).toBeLessThan(runAfter.getTime());
      const statuses: { status: string }[] = await upgraded.query(
        `SELECT status FROM nestjs_tasks WHERE id IN ('${deferred.map(({ id }) => id).join("', '")}')`,
      );
      expect(statuses).toEqual([
        { status: 'SCHEDULED' },
        { status: 'SCHEDULED' },
      ]);

      const { ds: fresh } = await open({
        entities: [TaskRecord, TaskWorkerRecord, TaskScheduleRecord],
        synchronize: true,
      });
      const check = await bootTasksApp({ dataSource: fresh });
      expect(await check.get(TaskQueue).backend().check()).toEqual([]);
      await check.close();
      expect(await describeTables(db.name, upgraded, TABLES)).toEqual(
        await describeTables(db.name, fresh, TABLES),
      );

      const app = await bootTasksApp({
        dataSource: upgraded,
        providers: [UpgradeTasks],
      });
      try {
        const queue = app.get(TaskQueue);
        const unique = await queue.enqueue(UpgradeTasks, 'rebuild', 'a');
        expect((await queue.enqueue(UpgradeTasks, 'rebuild', 'a')).id).toBe(
          unique.id,
        );
        expect(await batchWorker(app).run()).toBe('drained');
        for (const { id } of [...stored, unique]) {
          const result = await queue.getResult(id);
          expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
        }
        for (const { id } of stored) {
          const result = await queue.getResult(id);
          expect(result.returnValue).toBe(2 * (result.args[0] as number));
        }
        // The deferred tasks wait for their time, then run.
        for (const { id } of deferred) {
          const result = await queue.getResult(id);
          expect(result.status).toBe(TaskResultStatus.READY);
          expect(result.task.runAfter).toEqual(runAfter);
        }
        const workers = new Workers();
        workers.start(app, {});
        try {
          await waitFor('the deferred tasks to run', async () => {
            const results = await Promise.all(
              deferred.map(({ id }) => queue.getResult(id)),
            );
            return results.every(
              (result) => result.status === TaskResultStatus.SUCCESSFUL,
            );
          });
        } finally {
          await workers.stopAll();
        }
        for (const { id } of deferred) {
          const result = await queue.getResult(id);
          expect(result.returnValue).toBe(2 * (result.args[0] as number));
          expect(result.startedAt!.getTime()).toBeGreaterThanOrEqual(
            runAfter.getTime(),
          );
        }
        expect((await queue.enqueue(UpgradeTasks, 'rebuild', 'a')).id).not.toBe(
          unique.id,
        );
        const rows: { task_name: string }[] = await upgraded.query(
          'SELECT task_name FROM nestjs_tasks',
        );
        expect(
          rows.filter((row) => row.task_name === 'UpgradeTasks.rebuild'),
        ).toHaveLength(2);
      } finally {
        await app.close();
      }

      // And back down: the released schema again.
      for (let i = 1; i < taskMigrations.length; i++)
        await upgraded.undoLastMigration({ transaction: 'each' });
      const { ds: again } = await open({ migrations: released });
      await again.runMigrations({ transaction: 'each' });
      expect(await describeTables(db.name, upgraded, TABLES)).toEqual(
        await describeTables(db.name, again, TABLES),
      );
    }, 60_000);
  },
);
