import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource } from 'typeorm';
import {
  InvalidTaskArgumentsError,
  InvalidTaskError,
  OnTaskEvent,
  Task,
  TaskQueue,
  TaskResultDoesNotExistError,
  TaskResultStatus,
  type TaskResult,
} from '../../lib/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

/** Unique tasks, each keyed by its first argument; `run` waits while its gate is closed. */
@Injectable()
class UniqueTasks {
  private gate: Promise<void> | null = null;
  private open = () => {};

  /** Makes the next runs of `run` wait until `release()`. */
  close(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = null;
    this.open();
  }

  @Task({ unique: { key: (key: string) => key } })
  async run(key: string, _extra?: number): Promise<string> {
    await this.gate;
    return key;
  }

  /** Fails its first attempt and is retried a minute later. */
  @Task({
    unique: { key: (key: string) => key },
    maxAttempts: 2,
    retryDelay: 60_000,
  })
  async retried(key: string): Promise<string> {
    throw new Error(`${key} failed`);
  }

  @Task({ unique: { key: (key: string) => key } })
  async failing(key: string): Promise<string> {
    throw new Error(`${key} failed`);
  }

  @Task({ unique: { key: (key: unknown) => key as string } })
  async anyKey(_key: unknown): Promise<void> {}

  @Task({
    unique: {
      key: () => {
        throw new Error('no key today');
      },
    },
  })
  async keyThrows(): Promise<void> {}
}

/** The ids of the results the 'enqueued' event announced. */
@Injectable()
class EnqueuedIds {
  readonly ids: string[] = [];

  @OnTaskEvent('enqueued')
  onEnqueued({ result }: { result: TaskResult }): void {
    this.ids.push(result.id);
  }
}

/**
 * Unique tasks on a real database: while a result of the same task and key
 * is READY or RUNNING an enqueue returns it, and the database's unique index
 * decides, whatever transactions and batches the enqueues come in.
 */
describe.each(availableDatabases())(
  'unique tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_unique');
    let ds: DataSource;
    let moduleRef: TestingModule;
    let queue: TaskQueue;
    let tasks: UniqueTasks;
    let enqueued: EnqueuedIds;

    /** The stored rows of `task`, optionally in some statuses only. */
    const rows = async (
      method: string,
      statuses: TaskResultStatus[] = Object.values(TaskResultStatus),
    ): Promise<{ id: string; status: string; unique_key: string }[]> =>
      (await ds.query(`SELECT id, status, unique_key, task_name FROM ${table}`))
        .filter(
          (row: { task_name: string; status: TaskResultStatus }) =>
            row.task_name === `UniqueTasks.${method}` &&
            statuses.includes(row.status),
        )
        .map(({ id, status, unique_key }: Record<string, string>) => ({
          id,
          status,
          unique_key,
        }));
    const ready = (method: string) => rows(method, [TaskResultStatus.READY]);

    /** Another application on its own DataSource: another process, as far as the database can tell. */
    const otherApp = async () => {
      const other = await connectTestDataSource(db, table);
      const app = await bootTasksApp({
        dataSource: other,
        tableName: table,
        providers: [UniqueTasks],
      });
      // Opens its store now, so that its first enqueue goes straight to the database.
      expect(await app.get(TaskQueue).backend().check()).toEqual([]);
      return {
        queue: app.get(TaskQueue),
        dataSource: other,
        close: async () => {
          await app.close();
          await other.destroy();
        },
      };
    };

    /**
     * Until an enqueue of another connection waits for the lock of a row
     * an open transaction wrote (PostgreSQL, MariaDB); SQLite shows no
     * waiting statement, so it is given a moment to reach the database.
     */
    const untilWaiting = async () => {
      if (db.name === 'sqlite')
        return new Promise((resolve) => setTimeout(resolve, 200));
      // MariaDB's INNODB_TRX is a cache that polling keeps from refreshing: its status report is live.
      const waiting = new RegExp(
        `TRX HAS BEEN WAITING .*\\n.* of table \`[^\`]+\`\\.\`${table}\``,
      );
      const probe = async () =>
        db.name === 'postgres'
          ? (
              await ds.query(
                `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%${table}%'`,
              )
            ).length > 0
          : waiting.test(
              (await ds.query('SHOW ENGINE INNODB STATUS'))[0].Status,
            );
      await waitFor(
        'the other enqueue to wait for the open transaction',
        probe,
      );
    };

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [UniqueTasks, EnqueuedIds],
        provideDataSource: ds,
      });
      queue = moduleRef.get(TaskQueue);
      tasks = moduleRef.get(UniqueTasks);
      enqueued = moduleRef.get(EnqueuedIds);
    });

    afterEach(async () => {
      tasks.release();
      enqueued.ids.length = 0;
      await ds.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    it('returns the stored READY result to an enqueue of its task and key, and announces only what it stored', async () => {
      const first = await queue.enqueue(UniqueTasks, 'run', 'a', 1);
      const again = await queue.enqueue(UniqueTasks, 'run', 'a', 2);
      expect(again.id).toBe(first.id);
      // Its stored state: the arguments it was enqueued with.
      expect(again.status).toBe(TaskResultStatus.READY);
      expect(again.args).toEqual(['a', 1]);
      const otherKey = await queue.enqueue(UniqueTasks, 'run', 'b');
      const otherTask = await queue.enqueue(UniqueTasks, 'failing', 'a');
      expect(new Set([first.id, otherKey.id, otherTask.id]).size).toBe(3);
      const manual = queue.task(UniqueTasks, 'run').using({ uniqueKey: 'm' });
      const byKey = await manual.enqueue('x');
      expect((await manual.enqueue('y')).id).toBe(byKey.id);
      expect(await ready('run')).toHaveLength(3);
      expect(enqueued.ids).toEqual([
        first.id,
        otherKey.id,
        otherTask.id,
        byKey.id,
      ]);
    });

    it('stores one result for concurrent enqueues of one key in one process', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          queue.enqueue(UniqueTasks, 'run', 'concurrent', i),
        ),
      );
      expect(new Set(results.map((result) => result.id)).size).toBe(1);
      expect(await ready('run')).toEqual([
        { id: results[0].id, status: 'READY', unique_key: 'concurrent' },
      ]);
      expect(enqueued.ids).toEqual([results[0].id]);
    });

    it('enqueueMany stores one result per new key (the first given) and returns, in order, the holder of each', async () => {
      const stored = await queue.enqueue(UniqueTasks, 'run', 'held');
      const keys = ['a', 'held', 'b', 'a', 'c', 'held', 'b'];
      const results = await queue
        .task(UniqueTasks, 'run')
        .enqueueMany(keys.map((key, index) => [key, index]));
      expect(results.map((result) => result.args[0])).toEqual(keys);
      const idOf = (key: string) => results[keys.indexOf(key)].id;
      keys.forEach((key, index) => expect(results[index].id).toBe(idOf(key)));
      expect(idOf('held')).toBe(stored.id);
      // The first of each key wins.
      expect(results[3].args).toEqual(['a', 0]);
      expect(new Set(keys.map(idOf)).size).toBe(4);
      expect(await ready('run')).toHaveLength(4);
      expect(enqueued.ids.sort()).toEqual(
        [stored.id, idOf('a'), idOf('b'), idOf('c')].sort(),
      );
    });

    it('enqueueMany of more keys than one statement takes is all or nothing, and finds every holder', async () => {
      const count = 5001;
      const keys = Array.from({ length: count }, (_, i) => `k${i}`);
      const many = queue.task(UniqueTasks, 'run');
      const first = await many.enqueueMany(
        [...keys, 'k0', `k${count - 1}`].map((key) => [key]),
      );
      expect(first).toHaveLength(count + 2);
      expect(first[count].id).toBe(first[0].id);
      expect(first[count + 1].id).toBe(first[count - 1].id);
      expect(await ready('run')).toHaveLength(count);
      const second = await many.enqueueMany(
        ['new', ...keys].map((key) => [key]),
      );
      expect(second.slice(1).map((result) => result.id)).toEqual(
        first.slice(0, count).map((result) => result.id),
      );
      expect(await ready('run')).toHaveLength(count + 1);
    }, 60_000);

    it('keeps a key held while its result is RUNNING, and frees it once it has succeeded', async () => {
      const first = await queue.enqueue(UniqueTasks, 'run', 'r');
      tasks.close();
      const worker = batchWorker(moduleRef).run();
      await waitFor(
        'the task to run',
        async () =>
          (await queue.getResult(first.id)).status === TaskResultStatus.RUNNING,
      );
      const during = await queue.enqueue(UniqueTasks, 'run', 'r');
      expect(during.id).toBe(first.id);
      expect(during.status).toBe(TaskResultStatus.RUNNING);
      tasks.release();
      expect(await worker).toBe('drained');
      await first.refresh();
      expect(first.status).toBe(TaskResultStatus.SUCCESSFUL);
      const after = await queue.enqueue(UniqueTasks, 'run', 'r');
      expect(after.id).not.toBe(first.id);
      expect(await ready('run')).toEqual([
        { id: after.id, status: 'READY', unique_key: 'r' },
      ]);
    });

    it('keeps a key held by a READY retry, and frees it once the result FAILED or was CANCELLED', async () => {
      const retried = await queue.enqueue(UniqueTasks, 'retried', 'x');
      const failing = await queue.enqueue(UniqueTasks, 'failing', 'x');
      expect(await batchWorker(moduleRef).run()).toBe('drained');

      const retry = await queue.enqueue(UniqueTasks, 'retried', 'x');
      expect(retry.id).toBe(retried.id);
      expect(retry.status).toBe(TaskResultStatus.READY);
      expect(retry.attempts).toBe(1);
      expect(retry.errors).toHaveLength(1);

      await failing.refresh();
      expect(failing.status).toBe(TaskResultStatus.FAILED);
      const afterFailure = await queue.enqueue(UniqueTasks, 'failing', 'x');
      expect(afterFailure.id).not.toBe(failing.id);

      await queue.cancel(afterFailure.id);
      const afterCancel = await queue.enqueue(UniqueTasks, 'failing', 'x');
      expect(afterCancel.id).not.toBe(afterFailure.id);
      expect(await ready('failing')).toEqual([
        { id: afterCancel.id, status: 'READY', unique_key: 'x' },
      ]);
    });

    it('frees the key of an enqueue whose transaction rolled back', async () => {
      let rolledBack: TaskResult | undefined;
      await expect(
        queue.transaction(async () => {
          rolledBack = await queue.enqueue(UniqueTasks, 'run', 't');
          expect((await queue.enqueue(UniqueTasks, 'run', 't')).id).toBe(
            rolledBack.id,
          );
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const after = await queue.enqueue(UniqueTasks, 'run', 't');
      expect(after.id).not.toBe(rolledBack!.id);
      await expect(queue.getResult(rolledBack!.id)).rejects.toThrow(
        TaskResultDoesNotExistError,
      );
      expect(enqueued.ids).toEqual([after.id]);
    });

    it('makes an enqueue of another connection wait for an open transaction holding the key, then return its result', async () => {
      const other = await otherApp();
      try {
        let outside: Promise<TaskResult> | undefined;
        const inside = await queue.transaction(async () => {
          const result = await queue.enqueue(UniqueTasks, 'run', 'w');
          outside = other.queue.enqueue(UniqueTasks, 'run', 'w');
          await untilWaiting();
          return result;
        });
        expect((await outside!).id).toBe(inside.id);
        expect(await ready('run')).toEqual([
          { id: inside.id, status: 'READY', unique_key: 'w' },
        ]);
        expect(enqueued.ids).toEqual([inside.id]);
      } finally {
        await other.close();
      }
    });

    it('stores the waiting enqueue of another connection once the transaction holding the key rolls back', async () => {
      const other = await otherApp();
      try {
        let outside: Promise<TaskResult> | undefined;
        let inside: TaskResult | undefined;
        await expect(
          queue.transaction(async () => {
            inside = await queue.enqueue(UniqueTasks, 'run', 'v');
            outside = other.queue.enqueue(UniqueTasks, 'run', 'v');
            await untilWaiting();
            throw new Error('roll back');
          }),
        ).rejects.toThrow('roll back');
        const stored = await outside!;
        expect(stored.id).not.toBe(inside!.id);
        expect(await ready('run')).toEqual([
          { id: stored.id, status: 'READY', unique_key: 'v' },
        ]);
      } finally {
        await other.close();
      }
    });

    // Only PostgreSQL fires a trigger for an INSERT that stored nothing.
    (db.name === 'postgres' ? it : it.skip)(
      'stores a new result when the holder of the key finished between the insert that met it and the lookup',
      async () => {
        const holder = await queue.enqueue(UniqueTasks, 'run', 'raced');
        // Finishes the holder right after the next INSERT on the table, once.
        await ds.query(`CREATE TABLE ${table}_once (pending INTEGER)`);
        await ds.query(`INSERT INTO ${table}_once VALUES (1)`);
        await ds.query(
          `CREATE FUNCTION ${table}_finish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
            `DELETE FROM ${table}_once; IF FOUND THEN ` +
            `UPDATE ${table} SET status = 'SUCCESSFUL', finished_at = 0 WHERE id = '${holder.id}'; ` +
            `END IF; RETURN NULL; END $$`,
        );
        await ds.query(
          `CREATE TRIGGER ${table}_finish AFTER INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${table}_finish()`,
        );
        try {
          const next = await queue.enqueue(UniqueTasks, 'run', 'raced');
          expect(next.id).not.toBe(holder.id);
          expect(await rows('run')).toEqual(
            expect.arrayContaining([
              { id: holder.id, status: 'SUCCESSFUL', unique_key: 'raced' },
              { id: next.id, status: 'READY', unique_key: 'raced' },
            ]),
          );
          expect(enqueued.ids).toEqual([holder.id, next.id]);
        } finally {
          await ds.query(`DROP TRIGGER ${table}_finish ON ${table}`);
          await ds.query(`DROP FUNCTION ${table}_finish()`);
          await ds.query(`DROP TABLE ${table}_once`);
        }
      },
    );

    it('tells apart keys that differ only in case, trailing spaces or accents, as a string comparison would', async () => {
      const variants = [
        ['Abc', 'abc'],
        ['x', 'x '],
        ['e', 'é'],
      ];
      for (const [a, b] of variants) {
        const first = await queue.enqueue(UniqueTasks, 'run', a);
        const second = await queue.enqueue(UniqueTasks, 'run', b);
        expect(second.id).not.toBe(first.id);
        expect((await queue.enqueue(UniqueTasks, 'run', a)).id).toBe(first.id);
        expect((await queue.enqueue(UniqueTasks, 'run', b)).id).toBe(second.id);
      }
      // In one batch alike, each finding its own holder.
      const keys = variants.flat();
      const again = await queue
        .task(UniqueTasks, 'run')
        .enqueueMany([...keys, 'ABC', 'x  '].map((key) => [key]));
      expect(again.map((result) => result.args[0])).toEqual([
        ...keys,
        'ABC',
        'x  ',
      ]);
      expect(new Set(again.map((result) => result.id)).size).toBe(8);
      expect((await ready('run')).map((row) => row.unique_key).sort()).toEqual(
        [...keys, 'ABC', 'x  '].sort(),
      );
    });

    // PostgreSQL and SQLite tell which rows an INSERT stored; elsewhere (MySQL/MariaDB) a transaction hides them from workers until the enqueue is done.
    (db.name === 'mariadb' ? it.skip : it)(
      'returns the row it stored even when that row finished before the enqueue could look it up',
      async () => {
        // Finishes each row of the key 'fast' as it is inserted, as a quick worker could.
        const finish =
          db.name === 'postgres'
            ? [
                `CREATE FUNCTION ${table}_fast() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ` +
                  `UPDATE ${table} SET status = 'SUCCESSFUL', finished_at = 0 WHERE id = NEW.id; RETURN NULL; END $$`,
                `CREATE TRIGGER ${table}_fast AFTER INSERT ON ${table} FOR EACH ROW WHEN (NEW.unique_key = 'fast') EXECUTE FUNCTION ${table}_fast()`,
              ]
            : [
                `CREATE TRIGGER ${table}_fast AFTER INSERT ON ${table} WHEN NEW.unique_key = 'fast' BEGIN ` +
                  `UPDATE ${table} SET status = 'SUCCESSFUL', finished_at = 0 WHERE id = NEW.id; END`,
              ];
        for (const statement of finish) await ds.query(statement);
        try {
          const stored = await queue.enqueue(UniqueTasks, 'run', 'fast');
          expect(await rows('run')).toEqual([
            { id: stored.id, status: 'SUCCESSFUL', unique_key: 'fast' },
          ]);
          expect(enqueued.ids).toEqual([stored.id]);
        } finally {
          await ds.query(
            db.name === 'postgres'
              ? `DROP TRIGGER ${table}_fast ON ${table}`
              : `DROP TRIGGER ${table}_fast`,
          );
          if (db.name === 'postgres')
            await ds.query(`DROP FUNCTION ${table}_fast()`);
        }
      },
    );

    // SQLite has one writer, whose snapshot is always the latest.
    (db.name === 'sqlite' ? it.skip : it)(
      'in a REPEATABLE READ transaction, stores a new result when the holder its snapshot shows as READY has finished',
      async () => {
        const fillers = await queue
          .task(UniqueTasks, 'run')
          .enqueueMany([['f1'], ['f2']]);
        const holder = await queue.enqueue(UniqueTasks, 'run', 'rr');
        await ds.query(
          `DELETE FROM ${table} WHERE id IN ('${fillers[0].id}', '${fillers[1].id}')`,
        );
        // PostgreSQL then stores the new row before the holder, where a scan meets it first.
        if (db.name === 'postgres') await ds.query(`VACUUM ${table}`);
        enqueued.ids.length = 0;
        const result = await ds.transaction(
          'REPEATABLE READ',
          async (manager) => {
            await manager.query(`SELECT COUNT(*) FROM ${table}`);
            await ds.query(
              `UPDATE ${table} SET status = 'SUCCESSFUL', finished_at = 1 WHERE id = '${holder.id}'`,
            );
            return queue
              .task(UniqueTasks, 'run')
              .using({ transaction: manager })
              .enqueue('rr');
          },
        );
        expect(result.id).not.toBe(holder.id);
        expect(result.status).toBe(TaskResultStatus.READY);
        expect(await rows('run')).toEqual(
          expect.arrayContaining([
            { id: holder.id, status: 'SUCCESSFUL', unique_key: 'rr' },
            { id: result.id, status: 'READY', unique_key: 'rr' },
          ]),
        );
        expect(await rows('run')).toHaveLength(2);
        expect(enqueued.ids).toEqual([result.id]);
      },
    );

    (db.name === 'sqlite' ? it.skip : it)(
      'in a REPEATABLE READ transaction, returns the holder that started running after the snapshot, or fails as a race to retry',
      async () => {
        const holder = await queue.enqueue(UniqueTasks, 'run', 'rr');
        const enqueue = ds.transaction('REPEATABLE READ', async (manager) => {
          await manager.query(`SELECT COUNT(*) FROM ${table}`);
          await ds.query(
            `UPDATE ${table} SET status = 'RUNNING' WHERE id = '${holder.id}'`,
          );
          return queue
            .task(UniqueTasks, 'run')
            .using({ transaction: manager })
            .enqueue('rr');
        });
        if (db.name === 'postgres')
          // Its snapshot cannot show the row that holds the key.
          await expect(enqueue).rejects.toThrow(
            /lost a race with another transaction .*run that transaction \(or the enqueue\) again/,
          );
        else expect((await enqueue).id).toBe(holder.id);
        expect(await rows('run')).toEqual([
          { id: holder.id, status: 'RUNNING', unique_key: 'rr' },
        ]);
      },
    );

    // SQLite has one writer: concurrent enqueues never interleave.
    (db.name === 'sqlite' ? it.skip : it)(
      'settles concurrent enqueueMany calls of the same keys in opposite orders in transactions of their own without a deadlock, or tells a loser to retry where AUTO-INC locks remain',
      async () => {
        const other = await otherApp();
        try {
          // Two statements each: a deadlock would need them to overlap crosswise.
          const keys = Array.from({ length: 10000 }, (_, i) => `o${i}`);
          // In the application's transactions, which nothing retries.
          const enqueueMany = (
            on: TaskQueue,
            dataSource: DataSource,
            ordered: string[],
          ) =>
            dataSource.transaction((manager) =>
              on
                .task(UniqueTasks, 'run')
                .using({ transaction: manager })
                .enqueueMany(ordered.map((k) => [k])),
            );
          const [mine, theirs] = await Promise.allSettled([
            enqueueMany(queue, ds, keys),
            enqueueMany(other.queue, other.dataSource, [...keys].reverse()),
          ]);
          // MariaDB's default innodb_autoinc_lock_mode (1) holds the table's AUTO-INC lock through each INSERT … SELECT, waits included.
          const [{ mode }] =
            db.name === 'mariadb'
              ? await ds.query('SELECT @@innodb_autoinc_lock_mode AS mode')
              : [{ mode: 2 }];
          if (Number(mode) < 2) {
            const lost = [mine, theirs].filter(
              (outcome) => outcome.status === 'rejected',
            );
            expect(lost.length).toBeLessThan(2);
            for (const outcome of lost)
              expect(String(outcome.reason)).toMatch(
                /lost a race with another transaction .*run that transaction \(or the enqueue\) again/,
              );
          } else {
            expect(mine.status).toBe('fulfilled');
            expect(theirs.status).toBe('fulfilled');
            const ids = (outcome: typeof mine) =>
              outcome.status === 'fulfilled'
                ? outcome.value.map((result) => result.id)
                : [];
            expect(ids(theirs).reverse()).toEqual(ids(mine));
          }
          expect(await ready('run')).toHaveLength(keys.length);
        } finally {
          await other.close();
        }
      },
      60_000,
    );

    it('refuses a unique.key that throws or returns no string, naming the task, and stores nothing', async () => {
      await expect(queue.enqueue(UniqueTasks, 'keyThrows')).rejects.toThrow(
        InvalidTaskArgumentsError,
      );
      await expect(queue.enqueue(UniqueTasks, 'keyThrows')).rejects.toThrow(
        /UniqueTasks\.keyThrows.*no key today.*nothing was enqueued/,
      );
      for (const key of [7, '', null, { id: 1 }]) {
        await expect(
          queue.task(UniqueTasks, 'anyKey').enqueueMany([['fine'], [key]]),
        ).rejects.toThrow(
          /UniqueTasks\.anyKey.*unique\.key function returned .* for argument list 1/,
        );
      }
      expect(await rows('keyThrows')).toEqual([]);
      expect(await rows('anyKey')).toEqual([]);
      expect(enqueued.ids).toEqual([]);
    });

    it('refuses a key longer than the column holds, naming the task, and stores nothing', async () => {
      const longest = 'k'.repeat(255);
      const stored = await queue.enqueue(UniqueTasks, 'anyKey', longest);
      expect((await queue.enqueue(UniqueTasks, 'anyKey', longest)).id).toBe(
        stored.id,
      );
      const tooLong = `${longest}!`;
      await expect(
        queue.enqueue(UniqueTasks, 'anyKey', tooLong),
      ).rejects.toThrow(
        /UniqueTasks\.anyKey.*unique key "k+…" is 256 characters long; at most 255/,
      );
      await expect(
        queue.enqueue(UniqueTasks, 'anyKey', tooLong),
      ).rejects.toThrow(InvalidTaskError);
      expect(() =>
        queue.task(UniqueTasks, 'anyKey').using({ uniqueKey: tooLong }),
      ).toThrow(/UniqueTasks\.anyKey.*256 characters long/);
      expect(await rows('anyKey')).toEqual([
        { id: stored.id, status: 'READY', unique_key: longest },
      ]);
    });
  },
);
