/**
 * A DatabaseBackend on one DataSource with an outbox on another, on each
 * test database: an enqueue inside a transaction of the outbox's DataSource
 * is written to its outbox in that transaction and relayed to the backend's
 * tables after COMMIT; a rollback (or rolled-back savepoint) leaves nothing
 * in either; a relay that fails after COMMIT leaves the row to a worker's
 * sweep; a missing outbox table is reported with the fix, by the outbox's
 * check (the backend's own looks at its own tables).
 */
import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  Task,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  type TaskContext,
  type TaskResult,
} from '../../lib/index.js';
import { TaskOutbox } from '../../lib/dispatch/task-outbox.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  DispatchFailures,
  enqueueAroundRollbacks,
  workUntil,
} from '../support/outbox.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';

/** How often each task ran, by result id. */
const runs = new Map<string, number>();

@Injectable()
class OutboxTasks {
  @Task({ takesContext: true })
  async double(ctx: TaskContext, n: number): Promise<number> {
    runs.set(ctx.taskResult.id, (runs.get(ctx.taskResult.id) ?? 0) + 1);
    return 2 * n;
  }
}

describe.each(availableDatabases())(
  'a DatabaseBackend on another DataSource, through an outbox, on $name',
  (db: TestDatabase) => {
    /** The outbox's DataSource: where the application's transactions run. */
    const appTable = uniqueTableName('t_outbox_app');
    /** The backend's DataSource. */
    const taskTable = uniqueTableName('t_outbox_tasks');
    let appDs: DataSource;
    let taskDs: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;

    const inTransaction = <T>(work: () => Promise<T>): Promise<T> =>
      queue.transaction(work, { dataSource: appDs });
    const outboxIds = async (): Promise<string[]> =>
      (
        (await appDs.query(`SELECT id FROM ${appTable}_outbox`)) as {
          id: string;
        }[]
      ).map((row) => String(row.id));
    const taskIds = async (): Promise<string[]> =>
      (
        (await taskDs.query(`SELECT id FROM ${taskTable}`)) as { id: string }[]
      ).map((row) => String(row.id));
    const failures = () => moduleRef.get(DispatchFailures).events;

    beforeAll(async () => {
      appDs = await openTestDataSource(db, appTable);
      taskDs = await openTestDataSource(db, taskTable);
      moduleRef = await bootTasksApp({
        backends: {
          default: {
            backend: DatabaseBackend,
            queues: [],
            options: { dataSource: taskDs, tableName: taskTable },
            outbox: { dataSource: appDs, tableName: appTable },
          },
          // Its outbox table was never created.
          unmigrated: {
            backend: DatabaseBackend,
            queues: [],
            options: { dataSource: taskDs, tableName: taskTable },
            outbox: { dataSource: appDs, tableName: `${appTable}_none` },
          },
        },
        providers: [OutboxTasks, DispatchFailures],
      });
      queue = moduleRef.get(TaskQueue);
    });

    afterEach(async () => {
      runs.clear();
      failures().length = 0;
      await appDs.query(`DELETE FROM ${appTable}_outbox`);
      await taskDs.query(`DELETE FROM ${taskTable}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, appDs, appTable);
      await closeTestDataSource(db, taskDs, taskTable);
    });

    it("relays a committed enqueue to the backend's DataSource at once and deletes its row", async () => {
      let inside!: TaskResult<number>;
      await inTransaction(async () => {
        inside = await queue.enqueue(OutboxTasks, 'double', 21);
        expect(await taskIds()).toEqual([]);
      });
      expect(await taskIds()).toEqual([inside.id]);
      expect(await outboxIds()).toEqual([]);
      expect((await queue.getResult(inside.id)).status).toBe(
        TaskResultStatus.READY,
      );
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      expect((await queue.getResult(inside.id)).returnValue).toBe(42);
      expect(runs.get(inside.id)).toBe(1);
    });

    it('leaves no row in either DataSource after a rollback, or after a rolled-back savepoint', async () => {
      const { dropped, kept, inner } = await enqueueAroundRollbacks(
        inTransaction,
        (n) => queue.enqueue(OutboxTasks, 'double', n),
      );
      expect(await outboxIds()).toEqual([]);
      expect(await taskIds()).toEqual([kept.id]);
      for (const gone of [dropped, inner])
        await expect(queue.getResult(gone.id)).rejects.toThrow(
          TaskResultDoesNotExistError,
        );
    });

    it("leaves the row of a relay that fails after COMMIT to a worker's sweep, which relays it once", async () => {
      // The backend's table is away: the relay after COMMIT fails.
      await taskDs.query(
        `ALTER TABLE ${taskTable} RENAME TO ${taskTable}_away`,
      );
      let committed!: TaskResult<number>;
      try {
        await inTransaction(async () => {
          committed = await queue.enqueue(OutboxTasks, 'double', 5);
        });
      } finally {
        await taskDs.query(
          `ALTER TABLE ${taskTable}_away RENAME TO ${taskTable}`,
        );
      }
      expect(failures().map((event) => event.result.id)).toEqual([
        committed.id,
      ]);
      expect(await outboxIds()).toEqual([committed.id]);
      expect(await taskIds()).toEqual([]);

      await workUntil(
        moduleRef,
        "a worker's sweep to relay the task, and a worker to run it",
        async () => runs.has(committed.id),
      );
      expect(runs.get(committed.id)).toBe(1);
      expect(await outboxIds()).toEqual([]);
      expect(await taskIds()).toEqual([committed.id]);
      // Swept again, a row relayed already is not stored twice.
      await expect(
        moduleRef.get(TaskOutbox).sweep(queue.backend()),
      ).resolves.toBe(0);
    }, 60_000);

    // Only PostgreSQL refuses such a row: SQLite stores any value in any
    // column, and MariaDB's insert reads it as a number.
    (db.name === 'postgres' ? it : it.skip)(
      'sets aside a row the backend refuses, relaying and deleting the rows swept with it',
      async () => {
        await taskDs.query(
          `ALTER TABLE ${taskTable} RENAME TO ${taskTable}_away`,
        );
        const committed: TaskResult<number>[] = [];
        try {
          await inTransaction(async () => {
            for (const n of [1, 2, 3])
              committed.push(await queue.enqueue(OutboxTasks, 'double', n));
          });
        } finally {
          await taskDs.query(
            `ALTER TABLE ${taskTable}_away RENAME TO ${taskTable}`,
          );
        }
        // One of them damaged: a priority that is not a number.
        const [bad, ...good] = committed;
        const [row] = await appDs.query(
          `SELECT payload FROM ${appTable}_outbox WHERE id = '${bad.id}'`,
        );
        const payload = JSON.stringify({
          ...JSON.parse(String(row.payload)),
          priority: 'high',
        });
        await appDs.query(
          `UPDATE ${appTable}_outbox SET payload = '${payload}' WHERE id = '${bad.id}'`,
        );
        await appDs.query(`UPDATE ${appTable}_outbox SET available_at = 0`);
        const outbox = moduleRef.get(TaskOutbox);
        await expect(outbox.sweep(queue.backend())).resolves.toBe(2);
        expect((await taskIds()).sort()).toEqual(good.map((r) => r.id).sort());
        expect(await outboxIds()).toEqual([bad.id]);
        // Set aside: the next sweeps leave it alone.
        await expect(outbox.sweep(queue.backend())).resolves.toBe(0);
        const [{ at }] = await appDs.query(
          `SELECT available_at AS at FROM ${appTable}_outbox`,
        );
        expect(Number(at)).toBeGreaterThan(Date.now() + 30 * 60_000);
      },
    );

    it("checks the outbox table on the outbox's DataSource, not on the backend's", async () => {
      // The backend's DataSource has no outbox table: no outbox of this app writes there.
      await taskDs.query(
        `ALTER TABLE ${taskTable}_outbox RENAME TO ${taskTable}_outbox_away`,
      );
      try {
        expect(await queue.backend().check()).toEqual([]);
        expect(await moduleRef.get(TaskOutbox).check(queue.backend())).toEqual(
          [],
        );
      } finally {
        await taskDs.query(
          `ALTER TABLE ${taskTable}_outbox_away RENAME TO ${taskTable}_outbox`,
        );
      }
    });

    it('reports a missing outbox table with the migrations to run, and refuses the enqueue', async () => {
      const unmigrated = queue.backend('unmigrated');
      const [problem, ...more] = await moduleRef
        .get(TaskOutbox)
        .check(unmigrated);
      expect(more).toEqual([]);
      expect(problem.level).toBe('error');
      expect(problem.message).toContain(`'${appTable}_none_outbox' is missing`);
      expect(problem.message).toContain(
        `createTaskMigrations('${appTable}_none')`,
      );
      expect(problem.message).toContain(
        `NestjsTaskOutbox_${appTable}_none_1796300000000`,
      );
      expect(await moduleRef.get(TaskOutbox).check(queue.backend())).toEqual(
        [],
      );
      await expect(
        inTransaction(() =>
          queue
            .task(OutboxTasks, 'double')
            .using({ backend: 'unmigrated' })
            .enqueue(1),
        ),
      ).rejects.toThrow(/outbox table .* is missing or outdated/);
      expect(await taskIds()).toEqual([]);
    });
  },
);
