import { Injectable } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource, EntityManager } from 'typeorm';
import {
  InvalidTaskError,
  Task,
  createTaskMigrations,
  TaskQueue,
  TaskResultStatus,
  type WorkerQueue,
} from '../../lib/index.js';
import { TaskSchedule } from '../../lib/task/task-schedule.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { batchWorker, bootTasksApp } from '../support/tasks-app.js';
import { waitFor } from '../support/wait.js';

@Injectable()
class EverySecond {
  @Task({ schedule: '* * * * * *' })
  async tick(): Promise<string> {
    return 'ticked';
  }
}

@Injectable()
class EveryMinute {
  @Task({ schedule: { cron: '* * * * *', timeZone: 'Europe/Paris' } })
  async tick(): Promise<string> {
    return 'ticked';
  }
}

@Injectable()
class BadCron {
  @Task({ schedule: 'every five minutes' })
  async run(): Promise<void> {}
}

@Injectable()
class BadTimeZone {
  @Task({ schedule: { cron: '0 9 * * *', timeZone: 'Mars/Olympus_Mons' } })
  async run(): Promise<void> {}
}

@Injectable()
class NeedsArguments {
  @Task({ schedule: '0 * * * *' })
  async run(userId: number): Promise<number> {
    return userId;
  }
}

const MINUTE_TASK = 'EveryMinute.tick';
const SECOND_TASK = 'EverySecond.tick';

/**
 * Periodic tasks on a DatabaseBackend: the worker decides each tick in the
 * database (a compare-and-set on the schedules table, in the transaction
 * that enqueues it), catches up at most one missed tick, and a task it
 * meets for the first time starts at its next tick.
 */
describe.each(availableDatabases())(
  'periodic tasks on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_periodic');
    const schedules = `${table}_schedules`;
    let ds: DataSource;
    let moduleRef: TestingModule;

    const p = (index: number) => (db.name === 'postgres' ? `$${index}` : '?');
    const enqueued = async (
      taskName: string,
    ): Promise<{ id: string; scheduledFor: string }[]> => {
      const rows: { id: string; metadata: string }[] = await ds.query(
        `SELECT id, metadata FROM ${table} WHERE task_name = ${p(1)} ORDER BY seq`,
        [taskName],
      );
      return rows.map((row) => ({
        id: row.id,
        scheduledFor: JSON.parse(row.metadata).scheduledFor,
      }));
    };
    const lastTick = async (taskName: string): Promise<number | null> => {
      const [row] = await ds.query(
        `SELECT last_tick FROM ${schedules} WHERE task_name = ${p(1)}`,
        [taskName],
      );
      return row ? Number(row.last_tick) : null;
    };
    const storeTick = (taskName: string, tick: number) =>
      ds.query(
        `INSERT INTO ${schedules} (task_name, last_tick) VALUES (${p(1)}, ${p(2)})`,
        [taskName, tick],
      );
    const minuteSchedule = TaskSchedule.parse(MINUTE_TASK, {
      cron: '* * * * *',
      timeZone: 'Europe/Paris',
    });
    const queueOf = (app: TestingModule): WorkerQueue =>
      app.get(TaskQueue).backend().workerQueue()!;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      moduleRef = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [EveryMinute],
      });
    });

    afterEach(async () => {
      await ds.query(`DELETE FROM ${table}`);
      await ds.query(`DELETE FROM ${schedules}`);
    });

    afterAll(async () => {
      await moduleRef?.close();
      await closeTestDataSource(db, ds, table);
    });

    it('starts a task met for the first time at its next tick: nothing is enqueued for a tick before it', async () => {
      const before = minuteSchedule.latestTick(new Date())!.getTime();
      expect(await batchWorker(moduleRef).run()).toBe('drained');
      const after = minuteSchedule.latestTick(new Date())!.getTime();
      expect(await enqueued(MINUTE_TASK)).toEqual([]);
      expect([before, after]).toContain(await lastTick(MINUTE_TASK));
    });

    it('after downtime enqueues the latest missed tick once, not every missed tick', async () => {
      const anHourAgo = minuteSchedule.latestTick(
        new Date(Date.now() - 3_600_000),
      )!;
      await storeTick(MINUTE_TASK, anHourAgo.getTime());
      const before = minuteSchedule.latestTick(new Date())!.toISOString();
      // Two workers starting at once: still one catch-up.
      const [first, second] = await Promise.all([
        batchWorker(moduleRef).run(),
        batchWorker(moduleRef).run(),
      ]);
      expect([first, second]).toEqual(['drained', 'drained']);
      const after = minuteSchedule.latestTick(new Date())!.toISOString();
      const runs = await enqueued(MINUTE_TASK);
      expect(runs).toHaveLength(1);
      expect([before, after]).toContain(runs[0].scheduledFor);
      expect(await lastTick(MINUTE_TASK)).toBe(
        Date.parse(runs[0].scheduledFor),
      );
      const result = await moduleRef.get(TaskQueue).getResult(runs[0].id);
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe('ticked');
      expect(result.metadata).toEqual({ scheduledFor: runs[0].scheduledFor });
      expect(result.args).toEqual([]);
    });

    it('a worker schedules only the periodic tasks of the queues it consumes', async () => {
      await storeTick(MINUTE_TASK, 0);
      expect(
        await batchWorker(moduleRef, { queues: ['elsewhere'] }).run(),
      ).toBe('drained');
      expect(await enqueued(MINUTE_TASK)).toEqual([]);
      expect(await lastTick(MINUTE_TASK)).toBe(0);
      expect(await batchWorker(moduleRef, { queues: ['default'] }).run()).toBe(
        'drained',
      );
      expect(await enqueued(MINUTE_TASK)).toHaveLength(1);
    });

    it('claims a tick once however many claim it at once, and never an earlier tick after a later one', async () => {
      const queue = queueOf(moduleRef);
      const definition = moduleRef.get(TaskQueue).task(EveryMinute, 'tick');
      const enqueueIn =
        (tick: Date) => async (manager: EntityManager | null) => {
          await definition
            .using({
              transaction: manager,
              metadata: { scheduledFor: tick.toISOString() },
            })
            .enqueue();
        };
      const tick = new Date(Date.UTC(2030, 0, 1, 12, 0));
      await storeTick(MINUTE_TASK, tick.getTime() - 60_000);
      const won = await Promise.all(
        Array.from({ length: 8 }, () =>
          queue.claimTick!(MINUTE_TASK, tick, enqueueIn(tick)),
        ),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      const earlier = new Date(tick.getTime() - 60_000);
      expect(
        await queue.claimTick!(MINUTE_TASK, earlier, enqueueIn(earlier)),
      ).toBe(false);
      expect(
        (await enqueued(MINUTE_TASK)).map((run) => run.scheduledFor),
      ).toEqual([tick.toISOString()]);
      expect(await lastTick(MINUTE_TASK)).toBe(tick.getTime());
    });

    it('lets many workers meet a new task at once: one row, its first tick recorded, nothing enqueued', async () => {
      const queue = queueOf(moduleRef);
      const tick = new Date(Date.UTC(2030, 0, 1, 12, 0));
      const won = await Promise.all(
        Array.from({ length: 8 }, () =>
          queue.claimTick!(MINUTE_TASK, tick, async () => {
            throw new Error('a first tick is not enqueued');
          }),
        ),
      );
      expect(won).toEqual(Array(8).fill(false));
      expect(await lastTick(MINUTE_TASK)).toBe(tick.getTime());
      expect(await enqueued(MINUTE_TASK)).toEqual([]);
    });

    it('rolls the tick back with an enqueue that fails, so the tick is claimed again', async () => {
      const queue = queueOf(moduleRef);
      const tick = new Date(Date.UTC(2030, 0, 1, 12, 0));
      const before = tick.getTime() - 60_000;
      await storeTick(MINUTE_TASK, before);
      const definition = moduleRef.get(TaskQueue).task(EveryMinute, 'tick');
      await expect(
        queue.claimTick!(MINUTE_TASK, tick, async (manager) => {
          await definition.using({ transaction: manager }).enqueue();
          throw new Error('the process dies before the commit');
        }),
      ).rejects.toThrow('the process dies before the commit');
      expect(await enqueued(MINUTE_TASK)).toEqual([]);
      expect(await lastTick(MINUTE_TASK)).toBe(before);
      expect(
        await queue.claimTick!(MINUTE_TASK, tick, async (manager) => {
          await definition.using({ transaction: manager }).enqueue();
        }),
      ).toBe(true);
      expect(await enqueued(MINUTE_TASK)).toHaveLength(1);
    });

    it('the in-process worker schedules too: one run per tick, none once it stopped', async () => {
      const app = await bootTasksApp({
        dataSource: ds,
        tableName: table,
        providers: [EverySecond],
        extraOptions: { worker: { concurrency: 2 } },
      });
      try {
        await waitFor(
          'three ticks enqueued and run',
          async () => {
            const runs = await enqueued(SECOND_TASK);
            if (runs.length < 3) return false;
            const results = await Promise.all(
              runs.map((run) => app.get(TaskQueue).getResult(run.id)),
            );
            return results.every(
              (result) => result.status === TaskResultStatus.SUCCESSFUL,
            );
          },
          20_000,
        );
      } finally {
        await app.close();
      }
      // A worker that stopped schedules nothing more.
      const stoppedWith = (await enqueued(SECOND_TASK)).length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await enqueued(SECOND_TASK)).toHaveLength(stoppedWith);
      const ticks = (await enqueued(SECOND_TASK)).map((run) =>
        Date.parse(run.scheduledFor),
      );
      expect(new Set(ticks).size).toBe(ticks.length);
      for (let i = 1; i < ticks.length; i++)
        expect(ticks[i] - ticks[i - 1]).toBe(1000);
    }, 30_000);

    it('check() reports tables of an earlier version without the schedules table, with the fix', async () => {
      const behind = uniqueTableName('t_behind');
      const runner = ds.createQueryRunner();
      const [created, ...later] = createTaskMigrations(behind);
      try {
        await new created().up(runner);
        const app = await bootTasksApp({
          dataSource: ds,
          tableName: behind,
          providers: [EveryMinute],
        });
        try {
          const [problem, ...more] = await app.get(TaskQueue).backend().check();
          expect(more).toEqual([]);
          expect(problem.level).toBe('error');
          expect(problem.message).toContain(`'${behind}_schedules'`);
          expect(problem.message).toContain(
            `createTaskMigrations('${behind}')`,
          );
          for (const Migration of later) await new Migration().up(runner);
          expect(await app.get(TaskQueue).backend().check()).toEqual([]);
        } finally {
          await app.close();
        }
      } finally {
        for (const name of [
          `${behind}_outbox`,
          `${behind}_schedules`,
          `${behind}_workers`,
          behind,
        ])
          await ds.query(`DROP TABLE IF EXISTS ${name}`);
        await runner.release();
      }
    });

    it.each([
      [
        'an invalid cron string',
        BadCron,
        /Task 'BadCron.run': schedule "every five minutes" is not a cron expression .*five fields/,
      ],
      [
        'an unknown time zone',
        BadTimeZone,
        /Task 'BadTimeZone.run': schedule time zone "Mars\/Olympus_Mons" is unknown. Use an IANA time zone name/,
      ],
      [
        'a scheduled method that requires arguments',
        NeedsArguments,
        /Task 'NeedsArguments.run' \(NeedsArguments.run\) has a schedule but requires 1 argument\(s\)/,
      ],
    ])(
      'refuses %s at bootstrap, naming the task and the value; nothing is stored',
      async (_what, provider, message) => {
        await expect(
          bootTasksApp({
            dataSource: ds,
            tableName: table,
            providers: [provider],
            extraOptions: { worker: { concurrency: 1 } },
          }),
        ).rejects.toThrow(InvalidTaskError);
        await expect(
          bootTasksApp({
            dataSource: ds,
            tableName: table,
            providers: [provider],
          }),
        ).rejects.toThrow(message);
        expect(await ds.query(`SELECT id FROM ${table}`)).toEqual([]);
        expect(await ds.query(`SELECT task_name FROM ${schedules}`)).toEqual(
          [],
        );
      },
    );
  },
);
