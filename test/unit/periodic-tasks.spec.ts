import { Injectable, Logger } from '@nestjs/common';
import {
  DummyBackend,
  InvalidTaskError,
  Task,
  TaskQueue,
  TaskResultStatus,
  type TaskContext,
  type TaskOptions,
} from '../../lib/index.js';
import { TaskSchedule } from '../../lib/task/task-schedule.js';
import { LocalTickClaims } from '../../lib/worker/local-tick-claims.js';
import { OutageLog } from '../../lib/worker/outage-log.js';
import {
  TickScheduler,
  type PeriodicTask,
} from '../../lib/worker/tick-scheduler.js';
import { WorkerFactory } from '../../lib/worker/worker-factory.service.js';
import {
  MemoryQueueBackend,
  dropMemoryStore,
  memoryStore,
} from '../fixtures/memory-queue.backend.js';
import { bootApp } from '../support/boot-app.js';
import { waitFor } from '../support/wait.js';

const at = (iso: string) => new Date(iso);

describe('TaskSchedule', () => {
  it('reads five fields to the minute and six to the second, in UTC unless a time zone is given', () => {
    const everyFive = TaskSchedule.parse('t', '*/5 * * * *');
    expect(everyFive.timeZone).toBe('UTC');
    expect(everyFive.nextTick(at('2030-01-01T00:03:10Z'))).toEqual(
      at('2030-01-01T00:05:00Z'),
    );
    const everyTen = TaskSchedule.parse('t', '*/10 * * * * *');
    expect(everyTen.nextTick(at('2030-01-01T00:00:01Z'))).toEqual(
      at('2030-01-01T00:00:10Z'),
    );
    const paris = TaskSchedule.parse('t', {
      cron: '0 9 * * *',
      timeZone: 'Europe/Paris',
    });
    expect(paris.nextTick(at('2030-06-01T00:00:00Z'))).toEqual(
      at('2030-06-01T07:00:00Z'),
    );
    expect(paris.nextTick(at('2030-12-01T00:00:00Z'))).toEqual(
      at('2030-12-01T08:00:00Z'),
    );
  });

  it('the latest tick counts a tick exactly now; the next tick is strictly later', () => {
    const everyMinute = TaskSchedule.parse('t', '* * * * *');
    const tick = at('2030-01-01T10:00:00Z');
    expect(everyMinute.latestTick(tick)).toEqual(tick);
    expect(everyMinute.latestTick(at('2030-01-01T10:00:59.999Z'))).toEqual(
      tick,
    );
    expect(everyMinute.latestTick(at('2030-01-01T09:59:59.999Z'))).toEqual(
      at('2030-01-01T09:59:00Z'),
    );
    expect(everyMinute.nextTick(tick)).toEqual(at('2030-01-01T10:01:00Z'));
  });

  it.each<[string, unknown, RegExp]>([
    ['a sentence', 'every five minutes', /is not a cron expression/],
    ['seven fields', '0 0 0 1 1 * 2030', /is not a cron expression/],
    ['an hour out of range', '0 25 * * *', /is not a cron expression/],
    ['a date', '2030-01-01T00:00:00', /a date, not a pattern/],
    ['a day that never comes', '0 0 30 2 *', /never falls due/],
    [
      'an unknown time zone',
      { cron: '* * * * *', timeZone: 'Moon/Tycho' },
      /time zone "Moon\/Tycho" is unknown/,
    ],
    [
      'a number',
      5,
      /schedule must be a cron expression or \{ cron, timeZone\? \}, got 5/,
    ],
    [
      'a misspelt key',
      { cron: '* * * * *', tz: 'UTC' },
      /schedule must be a cron expression/,
    ],
  ])('refuses %s, naming the task', (_what, value, message) => {
    const parse = () =>
      TaskSchedule.parse(
        'Reports.daily',
        value as NonNullable<TaskOptions['schedule']>,
      );
    expect(parse).toThrow(InvalidTaskError);
    expect(parse).toThrow(message);
    expect(parse).toThrow(/^Task 'Reports.daily': /);
  });
});

@Injectable()
class ContextOnly {
  @Task({ schedule: '0 * * * *', takesContext: true })
  async run(ctx: TaskContext): Promise<number> {
    return ctx.attempt;
  }
}

@Injectable()
class Defaulted {
  @Task({ schedule: '0 * * * *' })
  async run(days = 7): Promise<number> {
    return days;
  }
}

@Injectable()
class ContextAndArgument {
  @Task({ schedule: '0 * * * *', takesContext: true })
  async run(ctx: TaskContext, days: number): Promise<number> {
    return ctx.attempt + days;
  }
}

describe('periodic tasks at bootstrap', () => {
  it('accepts a scheduled method that needs no argument (a context, defaults)', async () => {
    const app = await bootApp({
      tasks: { backends: { default: { backend: DummyBackend } } },
      providers: [ContextOnly, Defaulted],
    });
    await app.close();
  });

  it('refuses a scheduled method with a required argument besides its context', async () => {
    await expect(
      bootApp({
        tasks: { backends: { default: { backend: DummyBackend } } },
        providers: [ContextAndArgument],
      }),
    ).rejects.toThrow(
      "Task 'ContextAndArgument.run' (ContextAndArgument.run) has a schedule but requires 1 argument(s)",
    );
  });
});

describe('LocalTickClaims', () => {
  const task = (enqueued: Date[], fail = false): PeriodicTask => ({
    name: 'T.run',
    schedule: TaskSchedule.parse('T.run', '* * * * *'),
    enqueue: async (tick, transaction) => {
      expect(transaction).toBeNull();
      if (fail) throw new Error('store down');
      enqueued.push(tick);
    },
  });

  it('starts a task at its next tick, then enqueues each later tick once, never an earlier one', async () => {
    const claims = new LocalTickClaims();
    const backend = {};
    const enqueued: Date[] = [];
    const periodic = task(enqueued);
    const t1 = at('2030-01-01T10:00:00Z');
    const t2 = at('2030-01-01T10:01:00Z');
    expect(await claims.claim(backend, periodic, t1)).toBe(false);
    const both = await Promise.all([
      claims.claim(backend, periodic, t2),
      claims.claim(backend, periodic, t2),
    ]);
    expect(both.sort()).toEqual([false, true]);
    expect(await claims.claim(backend, periodic, t1)).toBe(false);
    expect(enqueued).toEqual([t2]);
    // Another backend decides on its own.
    expect(await claims.claim({}, periodic, t2)).toBe(false);
  });

  it('gives a tick whose enqueue failed back, so it is claimed again', async () => {
    const claims = new LocalTickClaims();
    const backend = {};
    const enqueued: Date[] = [];
    const t1 = at('2030-01-01T10:00:00Z');
    const t2 = at('2030-01-01T10:01:00Z');
    await claims.claim(backend, task(enqueued), t1);
    await expect(
      claims.claim(backend, task(enqueued, true), t2),
    ).rejects.toThrow('store down');
    expect(await claims.claim(backend, task(enqueued), t2)).toBe(true);
    expect(enqueued).toEqual([t2]);
  });
});

describe('TickScheduler', () => {
  const quietOutage = () =>
    new OutageLog({ warn() {}, log() {} } as unknown as Logger, 'default');

  it('claims the latest due tick when it starts, retries a failed claim, and claims nothing once stopped', async () => {
    const claimed: Date[] = [];
    let failures = 1;
    const periodic: PeriodicTask = {
      name: 'T.run',
      schedule: TaskSchedule.parse('T.run', '0 0 1 1 *'),
      enqueue: async () => {},
    };
    const scheduler = new TickScheduler(
      {
        tasks: [periodic],
        claim: async (_task, tick) => {
          if (failures-- > 0) throw new Error('store down');
          claimed.push(tick);
          return true;
        },
      },
      10,
      quietOutage(),
    );
    await scheduler.start();
    expect(claimed).toEqual([]);
    await waitFor('the retried claim', () => claimed.length === 1);
    expect(claimed[0]).toEqual(periodic.schedule.latestTick(new Date()));
    scheduler.stop();
    await scheduler.settled();
    // Settled: waiting for next New Year, not claiming the same tick again.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(claimed).toHaveLength(1);
  });

  it('claims at once a tick that fell due while a slow claim ran, rather than skipping it', async () => {
    const claimed: number[] = [];
    const scheduler = new TickScheduler(
      {
        tasks: [
          {
            name: 'T.run',
            schedule: TaskSchedule.parse('T.run', '* * * * * *'),
            enqueue: async () => {},
          },
        ],
        // Slower than the schedule's period: the next tick falls due during each claim.
        claim: async (_task, tick) => {
          claimed.push(tick.getTime() / 1000);
          await new Promise((resolve) => setTimeout(resolve, 1100));
          return true;
        },
      },
      10,
      quietOutage(),
    );
    await scheduler.start();
    await waitFor('four claims', () => claimed.length >= 4, 15_000);
    scheduler.stop();
    await scheduler.settled();
    const gaps = claimed.slice(1).map((tick, i) => tick - claimed[i]);
    // Waiting for the tick after the time a claim ended, every gap would be 2 s:
    // the tick that fell due meanwhile is claimed next (unless the machine
    // stalled long enough to let one more fall due).
    expect(gaps).toContain(1);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2);
  }, 20_000);

  it('does not start once stopped', async () => {
    let claims = 0;
    const scheduler = new TickScheduler(
      {
        tasks: [
          {
            name: 'T.run',
            schedule: TaskSchedule.parse('T.run', '* * * * * *'),
            enqueue: async () => {},
          },
        ],
        claim: async () => {
          claims++;
          return true;
        },
      },
      10,
      quietOutage(),
    );
    scheduler.stop();
    await scheduler.start();
    await scheduler.settled();
    expect(claims).toBe(0);
  });
});

@Injectable()
class Heartbeat {
  @Task({ schedule: '* * * * * *' })
  async beat(): Promise<string> {
    return 'beat';
  }
}

describe('periodic tasks on a custom backend without claimTick', () => {
  const store = 'periodic-local';
  afterEach(() => dropMemoryStore(store));

  it('the workers of one process enqueue each tick once among themselves', async () => {
    const app = await bootApp({
      tasks: {
        backends: {
          default: { backend: MemoryQueueBackend, options: { name: store } },
        },
      },
      providers: [Heartbeat],
    });
    const factory = app.get(WorkerFactory);
    const workers = [1, 2].map(() =>
      factory.create({ intervalMs: 20, concurrency: 1 }),
    );
    const running = workers.map((worker) => worker.run());
    const ticks = () =>
      [...memoryStore(store).tasks.values()]
        .map((task) => Date.parse(String(task.data.metadata.scheduledFor)))
        .sort((a, b) => a - b);
    const first = () => [...memoryStore(store).tasks.values()][0];
    try {
      await waitFor('three ticks, the first run', async () => {
        if (ticks().length < 3) return false;
        const result = await app.tasks.getResult(first().data.id);
        return result.status === TaskResultStatus.SUCCESSFUL;
      });
    } finally {
      for (const worker of workers) worker.stop();
      await Promise.all(running);
    }
    const enqueued = ticks();
    expect(new Set(enqueued).size).toBe(enqueued.length);
    for (let i = 1; i < enqueued.length; i++)
      expect(enqueued[i] - enqueued[i - 1]).toBe(1000);
    expect(app.get(TaskQueue).backend().workerQueue()!.claimTick).toBe(
      undefined,
    );
    await app.close();
  }, 20_000);
});
