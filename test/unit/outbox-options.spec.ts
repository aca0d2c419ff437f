import { DataSource } from 'typeorm';
import {
  DatabaseBackend,
  DummyBackend,
  ImmediateBackend,
  InvalidTaskBackendError,
  TaskResultStatus,
  type TaskBackendConfig,
  type TaskResultData,
} from '../../lib/index.js';
import { BullMQBackend } from '../../lib/bullmq/index.js';
import {
  decodeOutboxRow,
  encodeOutboxPayload,
} from '../../lib/backends/database/outbox-row.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';
import { bootApp } from '../support/boot-app.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';

/** Boots an app whose `default` backend is `config`. */
const boot = (config: TaskBackendConfig) =>
  bootApp({ tasks: { backends: { default: config } }, providers: [MathTasks] });

describe('the outbox option', () => {
  it.each<[string, TaskBackendConfig, RegExp]>([
    [
      'on a DatabaseBackend of the same DataSource (by default both the default one)',
      { backend: DatabaseBackend, outbox: {} },
      /'outbox' is not needed on its own DataSource 'default'/,
    ],
    [
      'on a DatabaseBackend of the same named DataSource',
      {
        backend: DatabaseBackend,
        options: { dataSource: 'orders' },
        outbox: { dataSource: 'orders' },
      },
      /not needed on its own DataSource 'orders'.*Remove 'outbox'/,
    ],
    [
      'beside enqueueOnCommit: false',
      { backend: BullMQBackend, enqueueOnCommit: false, outbox: {} },
      /'outbox' relays enqueues once their transaction has committed, and 'enqueueOnCommit: false'/,
    ],
    [
      'on a backend that cannot relay (ImmediateBackend)',
      { backend: ImmediateBackend, outbox: {} },
      /Backend 'default' \(ImmediateBackend\) cannot have an 'outbox'/,
    ],
    [
      'that is not an object',
      { backend: BullMQBackend, outbox: 'default' as never },
      /'outbox' must be an object such as \{ dataSource: 'default' \}/,
    ],
    [
      'with an unknown key',
      { backend: BullMQBackend, outbox: { table: 'x' } as never },
      /'outbox' unknown option\(s\) table; it takes dataSource, tableName/,
    ],
    [
      'with a dataSource that is neither a name nor a DataSource',
      { backend: BullMQBackend, outbox: { dataSource: 42 as never } },
      /'dataSource' must be a TypeORM DataSource or the name of one, got 42/,
    ],
    [
      'with a tableName that is no plain identifier',
      { backend: BullMQBackend, outbox: { tableName: 'tasks; DROP' } },
      /'tableName' must be a plain SQL identifier/,
    ],
  ])('is refused at bootstrap %s', async (_what, config, message) => {
    const attempt = boot(config);
    await expect(attempt).rejects.toThrow(InvalidTaskBackendError);
    await expect(boot(config)).rejects.toThrow(message);
  });

  it('is accepted on a DatabaseBackend of another DataSource, and on a BullMQBackend, without connecting', async () => {
    const other = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
    });
    const app = await bootApp({
      tasks: {
        backends: {
          default: { backend: BullMQBackend, outbox: {} },
          elsewhere: {
            backend: DatabaseBackend,
            options: { dataSource: other },
            outbox: { dataSource: 'default', tableName: 'app_tasks' },
          },
        },
      },
    });
    try {
      expect(app.tasks.backend().outbox).toEqual({});
      expect(app.tasks.backend('elsewhere').outbox).toEqual({
        dataSource: 'default',
        tableName: 'app_tasks',
      });
      expect(other.isInitialized).toBe(false);
    } finally {
      await app.close();
    }
  });

  it('is left out under TasksTestingModule: enqueues in a transaction are held in memory until it resolves', async () => {
    const app = await bootApp({
      tasks: {
        backends: { default: { backend: BullMQBackend, outbox: {} } },
      },
      imports: [TasksTestingModule.forRoot()],
      providers: [MathTasks],
    });
    try {
      const backend = app.tasks.backend() as DummyBackend;
      expect(backend).toBeInstanceOf(DummyBackend);
      expect(backend.outbox).toBeNull();
      await app.tasks.transaction(async () => {
        await app.tasks.enqueue(MathTasks, 'add', 1, 2);
        expect(backend.results).toHaveLength(0);
      });
      expect(app.get(TaskQueueTester).enqueued(MathTasks, 'add')).toHaveLength(
        1,
      );
    } finally {
      await app.close();
    }
  });
});

describe('an outbox row', () => {
  const data: TaskResultData = {
    id: '0190b6d2-6f7e-7cc1-9a55-5b0fd5d9f0aa',
    taskName: 'MathTasks.add',
    backend: 'default',
    queueName: 'reports',
    priority: -20,
    args: [1, { nested: ['x', null, true] }],
    status: TaskResultStatus.READY,
    runAfter: new Date('2030-01-02T03:04:05.678Z'),
    enqueuedAt: new Date('2029-12-31T23:59:59.001Z'),
    startedAt: null,
    finishedAt: null,
    lastAttemptedAt: null,
    attempts: 0,
    maxAttempts: 4,
    workerIds: [],
    errors: [],
    returnValue: null,
    progress: null,
    metadata: { traceparent: '00-abc-def-01', origin: 'checkout' },
    uniqueKey: 'order-17',
  };

  it('carries everything an enqueue sets, and reads back the same', () => {
    const row = { id: data.id, payload: encodeOutboxPayload(data) };
    expect(JSON.parse(row.payload)).not.toHaveProperty('id');
    expect(decodeOutboxRow(row)).toEqual({ id: data.id, data, problem: null });
  });

  it('reads a damaged payload as a problem, never a throw', () => {
    expect(decodeOutboxRow({ id: 'a', payload: '{not json' })).toMatchObject({
      id: 'a',
      data: null,
      problem: expect.any(String),
    });
    expect(
      decodeOutboxRow({
        id: 'b',
        payload: JSON.stringify({
          ...JSON.parse(encodeOutboxPayload(data)),
          taskName: 7,
          queueName: undefined,
          runAfter: 'soon',
        }),
      }),
    ).toEqual({
      id: 'b',
      data: null,
      problem: "'taskName', 'queueName', 'runAfter' unreadable",
    });
  });
});
