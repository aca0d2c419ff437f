import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource, DataSourceOptions } from 'typeorm';
import { ImmediateBackend, TaskQueue } from '../../lib/index.js';
import { TasksHealthIndicator } from '../../lib/terminus/index.js';
import {
  availableDatabases,
  closeTestDataSource,
  connectTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import { FaultTasks, Workers } from '../support/faults.js';
import { bootTasksApp } from '../support/tasks-app.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

const HOUR = 3_600_000;
/** A queue no task is enqueued to: workers there heartbeat and claim nothing. */
const IDLE_QUEUE = 'health-idle';

/**
 * The terminus indicator against a real database: up while the store
 * answers, down with the reason while it does not (PostgreSQL and MariaDB
 * behind a proxy that cuts this app's connections only; SQLite has none to
 * cut), and down when too few workers heartbeat or a due task has waited
 * too long.
 */
describe.each(availableDatabases())(
  'TasksHealthIndicator on $name',
  (db: TestDatabase) => {
    const table = uniqueTableName('t_health');
    let ds: DataSource;
    let appDs: DataSource;
    let proxy: TcpProxy | undefined;
    let moduleRef: TestingModule;
    let indicator: TasksHealthIndicator;
    let queue: TaskQueue;
    const workers = new Workers();

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      appDs = ds;
      if (db.name !== 'sqlite') {
        const { port } = db.options as { port: number };
        proxy = await TcpProxy.start(port);
        appDs = await connectTestDataSource(db, table, {
          host: '127.0.0.1',
          port: proxy.port,
        } as Partial<DataSourceOptions>);
      }
      moduleRef = await bootTasksApp({
        dataSource: appDs,
        tableName: table,
        leaseMs: 1500,
        imports: [TerminusModule],
        providers: [FaultTasks, TasksHealthIndicator],
      });
      indicator = moduleRef.get(TasksHealthIndicator);
      queue = moduleRef.get(TaskQueue);
    });

    afterEach(async () => {
      proxy?.restore();
      await workers.abortAll();
      await ds.query(`DELETE FROM ${table}`);
    });

    afterAll(async () => {
      proxy?.restore();
      try {
        await moduleRef?.close();
        if (appDs !== ds && appDs?.isInitialized) await appDs.destroy();
        await proxy?.close();
      } finally {
        await closeTestDataSource(db, ds, table);
      }
    });

    const sleeper = () => queue.task(FaultTasks, 'sleep');

    it('is up with the counts per status, the oldest due READY age and the live workers', async () => {
      await sleeper()
        .using({ runAfter: new Date(Date.now() - 60_000) })
        .enqueueMany([[1], [2]]);
      await sleeper()
        .using({ runAfter: new Date(Date.now() + HOUR) })
        .enqueue(3);
      const result = await indicator.isHealthy('tasks');
      expect(result).toEqual({
        tasks: {
          status: 'up',
          backend: 'default',
          counts: { READY: 3 },
          oldestReadyAgeMs: expect.any(Number),
          workers: 0,
        },
      });
      expect(result.tasks.oldestReadyAgeMs).toBeGreaterThanOrEqual(60_000);
    });

    it('is down while a due READY task has waited longer than maxReadyAgeMs', async () => {
      // A task due later waits for nobody, whatever its priority.
      await sleeper()
        .using({ runAfter: new Date(Date.now() + HOUR), priority: 5 })
        .enqueue(1);
      const notDue = await indicator.isHealthy('tasks', { maxReadyAgeMs: 0 });
      expect(notDue.tasks).toMatchObject({
        status: 'up',
        oldestReadyAgeMs: null,
      });

      await sleeper()
        .using({ runAfter: new Date(Date.now() - 60_000) })
        .enqueue(2);
      const late = await indicator.isHealthy('tasks', {
        maxReadyAgeMs: 30_000,
      });
      expect(late.tasks.status).toBe('down');
      expect(late.tasks.message).toMatch(
        /^Backend 'default': the oldest due READY task has waited \d+ ms, longer than maxReadyAgeMs 30000/,
      );
      expect(late.tasks.counts).toEqual({ READY: 2 });
      const patient = await indicator.isHealthy('tasks', {
        maxReadyAgeMs: HOUR,
      });
      expect(patient.tasks.status).toBe('up');
    });

    it('is down while fewer than minWorkers workers heartbeat', async () => {
      const none = await indicator.isHealthy('tasks', { minWorkers: 1 });
      expect(none.tasks).toMatchObject({ status: 'down', workers: 0 });
      expect(none.tasks.message).toMatch(
        /^Backend 'default' has 0 live worker\(s\), fewer than minWorkers 1/,
      );

      workers.start(moduleRef, { workerId: 'health-a', queues: [IDLE_QUEUE] });
      await waitFor('a worker to heartbeat', async () => {
        const result = await indicator.isHealthy('tasks', { minWorkers: 1 });
        return result.tasks.status === 'up';
      });
      const short = await indicator.isHealthy('tasks', { minWorkers: 2 });
      expect(short.tasks).toMatchObject({ status: 'down', workers: 1 });

      workers.start(moduleRef, { workerId: 'health-b', queues: [IDLE_QUEUE] });
      await waitFor('both workers to heartbeat', async () => {
        const result = await indicator.isHealthy('tasks', { minWorkers: 2 });
        return result.tasks.status === 'up';
      });
    });

    it('fails a terminus health check with its details when down', async () => {
      const health = moduleRef.get(HealthCheckService);
      await expect(
        health.check([() => indicator.isHealthy('tasks')]),
      ).resolves.toMatchObject({ status: 'ok' });
      const failure = await health
        .check([() => indicator.isHealthy('tasks', { minWorkers: 1 })])
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ServiceUnavailableException);
      expect(
        (failure as ServiceUnavailableException).getResponse(),
      ).toMatchObject({
        status: 'error',
        error: { tasks: { status: 'down', workers: 0 } },
      });
    });

    // A SQLite file has no server to cut off: it cannot be unreachable.
    (db.name === 'sqlite' ? it.skip : it)(
      'is down while the database is unreachable, and up again once it answers',
      async () => {
        expect((await indicator.isHealthy('tasks')).tasks.status).toBe('up');

        proxy!.cut();
        const down = await indicator.isHealthy('tasks');
        expect(down.tasks).toEqual({
          status: 'down',
          backend: 'default',
          message: expect.stringMatching(
            /^Backend 'default' \(DatabaseBackend\) did not answer: .+\. Check that its database is up/,
          ),
        });
        // Still down on a second look: nothing was cached.
        expect((await indicator.isHealthy('tasks')).tasks.status).toBe('down');

        proxy!.restore();
        await waitFor('the indicator to be up again', async () => {
          const result = await indicator.isHealthy('tasks');
          return result.tasks.status === 'up';
        });
      },
    );
  },
);

describe('TasksHealthIndicator on a backend without workers', () => {
  let moduleRef: TestingModule;
  let indicator: TasksHealthIndicator;

  beforeAll(async () => {
    moduleRef = await bootTasksApp({
      backends: { default: { backend: ImmediateBackend } },
      imports: [TerminusModule],
      providers: [TasksHealthIndicator],
    });
    indicator = moduleRef.get(TasksHealthIndicator);
  });

  afterAll(() => moduleRef?.close());

  it('is up when asked nothing about workers, down when asked', async () => {
    expect(await indicator.isHealthy('tasks')).toEqual({
      tasks: { status: 'up', backend: 'default' },
    });
    const result = await indicator.isHealthy('tasks', { minWorkers: 1 });
    expect(result.tasks.status).toBe('down');
    expect(result.tasks.message).toMatch(
      /^Backend 'default' \(ImmediateBackend\) has no workers or queue to check/,
    );
  });

  it('is down on an alias that is not configured, naming the configured ones', async () => {
    const result = await indicator.isHealthy('tasks', { backend: 'reports' });
    expect(result.tasks).toEqual({
      status: 'down',
      backend: 'reports',
      message: expect.stringContaining(
        "Backend 'reports', which is not configured (configured: 'default')",
      ),
    });
  });
});
