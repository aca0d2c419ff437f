import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import {
  DummyBackend,
  InvalidTaskBackendError,
  TaskQueue,
  TaskResultStatus,
} from '../../lib/index.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';

/** Saves through the transaction's manager: what unit tests stub. */
@Injectable()
class UsersStore {
  async create(manager: EntityManager, email: string): Promise<number> {
    await manager.query('INSERT INTO users (email) VALUES (?)', [email]);
    return 1;
  }
}

/** Code under test: writes and enqueues in one TaskQueue.transaction(). */
@Injectable()
class SignupService {
  constructor(
    private readonly tasks: TaskQueue,
    private readonly users: UsersStore,
  ) {}

  signUp(email: string, fail = false): Promise<number> {
    return this.tasks.transaction(async (manager) => {
      const id = await this.users.create(manager, email);
      await this.tasks.enqueue(MathTasks, 'add', id, 1);
      if (fail) throw new Error('signup failed');
      return id;
    });
  }
}

describe('TaskQueue.transaction() under TasksTestingModule', () => {
  describe('when the application registers no DataSource', () => {
    let app: BootedApp;
    let tester: TaskQueueTester;
    const created: string[] = [];

    beforeEach(async () => {
      created.length = 0;
      app = await bootApp({
        imports: [TasksTestingModule.forRoot()],
        providers: [
          MathTasks,
          SignupService,
          {
            provide: UsersStore,
            useValue: {
              create: async (_manager: EntityManager, email: string) => {
                created.push(email);
                return 7;
              },
            },
          },
        ],
      });
      tester = app.get(TaskQueueTester);
    });

    afterEach(() => app.close());

    it('holds the enqueues made inside until the callback resolves', async () => {
      let inside: number | undefined;
      const value = await app.tasks.transaction(async () => {
        await app.tasks.enqueue(MathTasks, 'add', 1, 2);
        inside = tester.enqueued().length;
        return 'done';
      });

      expect(value).toBe('done');
      expect(inside).toBe(0);
      expect(tester.enqueued(MathTasks, 'add')).toHaveLength(1);
      expect(app.tasks.backend()).toBeInstanceOf(DummyBackend);
    });

    it('lets a service that enqueues in a transaction be tested with its store stubbed', async () => {
      await expect(
        app.get(SignupService).signUp('ada@example.test'),
      ).resolves.toBe(7);

      expect(created).toEqual(['ada@example.test']);
      const [result] = tester.enqueued(MathTasks, 'add');
      expect(result.args).toEqual([7, 1]);
      await tester.runAll();
      expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(result.returnValue).toBe(8);
    });

    it('drops the enqueues when the callback throws, and rethrows', async () => {
      await expect(
        app.get(SignupService).signUp('bob@example.test', true),
      ).rejects.toThrow('signup failed');

      expect(tester.enqueued()).toEqual([]);
    });

    it('makes nested calls savepoints: an inner failure drops only its enqueues', async () => {
      await app.tasks.transaction(async () => {
        await app.tasks.enqueue(MathTasks, 'add', 1, 1);
        await app.tasks
          .transaction(async () => {
            await app.tasks.enqueue(MathTasks, 'add', 2, 2);
            throw new Error('inner');
          })
          .catch(() => undefined);
        await app.tasks.transaction(async () => {
          await app.tasks.enqueue(MathTasks, 'add', 3, 3);
        });
        expect(tester.enqueued()).toEqual([]);
      });

      expect(tester.enqueued().map((result) => result.args)).toEqual([
        [1, 1],
        [3, 3],
      ]);
    });

    it('keeps concurrent transactions apart: one failing drops only its own enqueues', async () => {
      let release!: () => void;
      const started = new Promise<void>((resolve) => (release = resolve));
      const failing = app.tasks.transaction(async () => {
        await app.tasks.enqueue(MathTasks, 'add', 1, 1);
        await started;
        throw new Error('first fails');
      });
      const succeeding = app.tasks.transaction(async () => {
        await app.tasks.enqueue(MathTasks, 'add', 2, 2);
        release();
      });

      await expect(failing).rejects.toThrow('first fails');
      await succeeding;
      expect(tester.enqueued().map((result) => result.args)).toEqual([[2, 2]]);
    });

    it('holds an enqueue given the manager explicitly', async () => {
      await app.tasks.transaction(async (manager) => {
        await app.tasks
          .task(MathTasks, 'add')
          .using({ transaction: manager })
          .enqueue(4, 4);
        expect(tester.enqueued()).toEqual([]);
      });

      expect(tester.enqueued()).toHaveLength(1);
    });

    it('hands over a manager that refuses queries, saying there is no database', async () => {
      const manager = await app.tasks.transaction(async (manager) => manager);

      expect(manager).toBeInstanceOf(EntityManager);
      expect(() => manager.getRepository('User')).toThrow(
        InvalidTaskBackendError,
      );
      await expect(
        app.tasks.transaction((manager) =>
          new UsersStore().create(manager, 'x'),
        ),
      ).rejects.toThrow(
        /manager\.query\(\) cannot run: under TasksTestingModule.*registers no TypeORM DataSource.*Stub/,
      );
    });
  });

  it('runs a real transaction when a DataSource is registered', async () => {
    const dataSource = await new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
    }).initialize();
    await dataSource.query('CREATE TABLE users (email TEXT)');
    const app = await bootApp({
      imports: [TasksTestingModule.forRoot()],
      providers: [MathTasks, { provide: DataSource, useValue: dataSource }],
    });
    try {
      await expect(
        app.tasks.transaction(async (manager) => {
          await new UsersStore().create(manager, 'ada@example.test');
          await app.tasks.enqueue(MathTasks, 'add', 1, 2);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');

      expect(await dataSource.query('SELECT email FROM users')).toEqual([]);
      expect(app.get(TaskQueueTester).enqueued()).toEqual([]);
    } finally {
      await app.close();
      await dataSource.destroy();
    }
  });

  it('still needs a DataSource without TasksTestingModule', async () => {
    const app = await bootApp({ providers: [MathTasks] });
    try {
      await expect(app.tasks.transaction(async () => 1)).rejects.toThrow(
        /no TypeORM DataSource named 'default'/,
      );
    } finally {
      await app.close();
    }
  });
});
