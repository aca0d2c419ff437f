import {
  DummyBackend,
  ImmediateBackend,
  InvalidTaskArgumentsError,
  InvalidTaskBackendError,
  InvalidTaskError,
  TaskInterruptedError,
  TaskResultDoesNotExistError,
  TaskResultMismatchError,
  TaskResultNotReadyError,
  TasksError,
  TaskTimeoutError,
  type TaskBackendClass,
  type TaskQueue,
} from '../../lib/index.js';
import { bootApp, type BootedApp } from '../support/boot-app.js';
import { dummyWithInline } from '../fixtures/backend-configs.js';
import {
  DuplicateNameA,
  DuplicateNameB,
  MathTasks,
  NotABackend,
  Point,
  PriorityTasks,
  RequestScopedTasks,
  UnknownBackendTasks,
  TypoOptionTasks,
  UnlistedQueueTasks,
} from '../fixtures/tasks.fixtures.js';

type ErrorClass = new (...args: any[]) => Error;

/** Matches when every fragment occurs in the message, in any order. */
function mentions(...fragments: (string | RegExp)[]): RegExp {
  const parts = fragments.map((fragment) =>
    typeof fragment === 'string'
      ? fragment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      : fragment.source,
  );
  return new RegExp(parts.map((part) => `(?=[\\s\\S]*${part})`).join(''));
}

function cyclic(): Record<string, unknown> {
  const node: Record<string, unknown> = { name: 'loop' };
  node.self = node;
  return node;
}

/** Boots an application that is expected to fail; closes it if it unexpectedly starts. */
async function bootExpectingFailure(
  ...args: Parameters<typeof bootApp>
): Promise<void> {
  const app = await bootApp(...args);
  await app.close();
}

interface EnqueueCase {
  what: string;
  act: (tasks: TaskQueue) => unknown;
  error: ErrorClass;
  message: RegExp;
}

const enqueueCases: EnqueueCase[] = [
  {
    what: 'priority above 100',
    act: (tasks) =>
      tasks.task(MathTasks, 'add').using({ priority: 101 }).enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'priority', '101'),
  },
  {
    what: 'an unknown using() option (a typo)',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .using({ priorty: 5 } as unknown as { priority: number })
        .enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', "'priorty'", "'priority'"),
  },
  {
    what: 'priority below -100',
    act: (tasks) =>
      tasks.task(MathTasks, 'add').using({ priority: -101 }).enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'priority', '-101'),
  },
  {
    what: 'fractional priority',
    act: (tasks) =>
      tasks.task(MathTasks, 'add').using({ priority: 1.5 }).enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'priority', '1.5'),
  },
  {
    what: 'NaN priority',
    act: (tasks) =>
      tasks.task(MathTasks, 'add').using({ priority: NaN }).enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'priority', 'NaN'),
  },
  {
    what: 'unknown backend alias in using()',
    act: (tasks) =>
      tasks.task(MathTasks, 'add').using({ backend: 'nowhere' }).enqueue(1, 2),
    error: InvalidTaskBackendError,
    message: mentions('nowhere'),
  },
  {
    what: 'queue the backend does not accept',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .using({ queueName: 'reports' })
        .enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'reports', 'default'),
  },
  {
    what: 'runAfter on a backend that cannot defer',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .using({ backend: 'inline', runAfter: new Date(Date.now() + 60_000) })
        .enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'runAfter', 'inline'),
  },
  {
    what: 'an invalid runAfter date',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .using({ runAfter: new Date('not a date') })
        .enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'runAfter'),
  },
  {
    what: 'metadata that is not JSON',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .using({ metadata: { requestedAt: new Date() } })
        .enqueue(1, 2),
    error: InvalidTaskError,
    message: mentions('MathTasks.add', 'metadata', 'requestedAt', 'Date'),
  },
  {
    what: 'a Date nested in an argument',
    act: (tasks) =>
      tasks.enqueue(MathTasks, 'accept', 1, { createdAt: new Date() }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[1].createdAt', 'Date'),
  },
  {
    what: 'a Date as an argument',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', new Date()),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0]', 'Date'),
  },
  {
    what: 'a Map',
    act: (tasks) =>
      tasks.enqueue(MathTasks, 'accept', 'x', new Map([['a', 1]])),
    error: InvalidTaskArgumentsError,
    message: mentions('args[1]', 'Map'),
  },
  {
    what: 'a Set',
    act: (tasks) =>
      tasks.enqueue(MathTasks, 'accept', { tags: new Set(['a']) }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].tags', 'Set'),
  },
  {
    what: 'a BigInt',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', { total: 10n }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].total', 'BigInt'),
  },
  {
    what: 'undefined inside an object',
    act: (tasks) =>
      tasks.enqueue(MathTasks, 'accept', { name: 'a', nickname: undefined }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].nickname', 'undefined'),
  },
  {
    what: 'undefined as an argument',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', 1, undefined),
    error: InvalidTaskArgumentsError,
    message: mentions('args[1]', 'undefined'),
  },
  {
    what: 'a function',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', { onDone: () => 1 }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].onDone', 'function'),
  },
  {
    what: 'a cycle',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', cyclic()),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].self', /circular|cycl/),
  },
  {
    what: 'a class instance',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', [new Point(1, 2)]),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0][0]', 'Point'),
  },
  {
    what: 'a NaN number',
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', { ratio: NaN }),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0].ratio', 'NaN'),
  },
  {
    what: 'Infinity',
    act: (tasks) => tasks.enqueue(MathTasks, 'add', Infinity, 1),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0]', 'Infinity'),
  },
  {
    what: 'an unknown task registry name',
    act: (tasks) => tasks.task('Nobody.nothing').enqueue(),
    error: InvalidTaskError,
    message: mentions('Nobody.nothing'),
  },
  {
    what: 'a method that is not a task',
    act: (tasks) => tasks.task(MathTasks, 'helper').enqueue(),
    error: InvalidTaskError,
    message: mentions('MathTasks.helper'),
  },
  {
    what: 'a task whose class is not a provider of the application',
    act: (tasks) => tasks.task(PriorityTasks, 'urgent').enqueue('x'),
    error: InvalidTaskError,
    message: mentions('PriorityTasks.urgent', 'provider'),
  },
  {
    what: 'an enqueueMany entry that is not an argument list',
    act: (tasks) =>
      tasks
        .task(MathTasks, 'add')
        .enqueueMany([[1, 2], 5 as unknown as [number, number]]),
    error: InvalidTaskArgumentsError,
    message: mentions('MathTasks.add', 'enqueueMany'),
  },
  {
    what: 'an array with a hole',
    // eslint-disable-next-line no-sparse-arrays
    act: (tasks) => tasks.enqueue(MathTasks, 'accept', [1, , 3]),
    error: InvalidTaskArgumentsError,
    message: mentions('args[0][1]'),
  },
  {
    what: 'an unknown backend alias in TaskQueue.backend()',
    act: (tasks) => tasks.backend('nowhere'),
    error: InvalidTaskBackendError,
    message: mentions('nowhere'),
  },
];

describe('invalid input at enqueue time', () => {
  let app: BootedApp;
  let dummy: DummyBackend;

  beforeAll(async () => {
    app = await bootApp({ tasks: dummyWithInline, providers: [MathTasks] });
    dummy = app.tasks.backend() as DummyBackend;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    dummy.clear();
  });

  it.each(enqueueCases)('refuses $what', async ({ act, error, message }) => {
    const attempt = (async () => act(app.tasks))();

    await expect(attempt).rejects.toThrow(error);
    await expect((async () => act(app.tasks))()).rejects.toThrow(message);
    expect(dummy.results).toHaveLength(0);
    expect(app.get(MathTasks).calls).toEqual([]);
  });

  it('accepts the boundary priorities and a plain JSON argument tree', async () => {
    const add = app.tasks.task(MathTasks, 'add');
    await add.using({ priority: 100 }).enqueue(1, 2);
    await add.using({ priority: -100 }).enqueue(1, 2);
    await app.tasks.enqueue(
      MathTasks,
      'accept',
      { a: [1, 'two', null, true, { b: -0.5 }] },
      'x',
      3,
    );

    expect(dummy.results).toHaveLength(3);
  });
});

interface BootCase {
  what: string;
  boot: () => Promise<void>;
  error: ErrorClass;
  message: RegExp;
}

const bootCases: BootCase[] = [
  {
    what: 'an unknown @Task() option (a typo)',
    boot: () => bootExpectingFailure({ providers: [TypoOptionTasks] }),
    error: InvalidTaskError,
    message: mentions('TypoOptionTasks.run', "'maxAttempt'", "'maxAttempts'"),
  },
  {
    what: 'two tasks with the same name',
    boot: () =>
      bootExpectingFailure({ providers: [DuplicateNameA, DuplicateNameB] }),
    error: InvalidTaskError,
    message: mentions(
      'shared.name',
      'DuplicateNameA.work',
      'DuplicateNameB.work',
    ),
  },
  {
    what: 'a task on a request-scoped provider',
    boot: () => bootExpectingFailure({ providers: [RequestScopedTasks] }),
    error: InvalidTaskError,
    message: mentions('RequestScopedTasks.perRequest', /request/i),
  },
  {
    what: 'a task naming a backend alias that is not configured',
    boot: () => bootExpectingFailure({ providers: [UnknownBackendTasks] }),
    error: InvalidTaskBackendError,
    message: mentions('UnknownBackendTasks.run', 'missing-alias'),
  },
  {
    what: 'a task on a queue its backend does not list',
    boot: () =>
      bootExpectingFailure({
        tasks: {
          backends: {
            default: { backend: DummyBackend, queues: ['default', 'emails'] },
          },
        },
        providers: [UnlistedQueueTasks],
      }),
    error: InvalidTaskError,
    message: mentions('UnlistedQueueTasks.run', 'reports', 'default'),
  },
  {
    what: 'an empty backends map',
    boot: () =>
      bootExpectingFailure({
        tasks: { backends: {} },
        providers: [MathTasks],
      }),
    error: InvalidTaskBackendError,
    message: mentions('backends', 'default'),
  },
  {
    what: "backends without a 'default' alias",
    boot: () =>
      bootExpectingFailure({
        tasks: { backends: { primary: { backend: DummyBackend } } },
        providers: [MathTasks],
      }),
    error: InvalidTaskBackendError,
    message: mentions('default', 'primary'),
  },
  {
    what: 'a backend class that does not extend TaskBackend',
    boot: () =>
      bootExpectingFailure({
        tasks: {
          backends: {
            default: { backend: NotABackend as unknown as TaskBackendClass },
          },
        },
        providers: [MathTasks],
      }),
    error: InvalidTaskBackendError,
    message: mentions('NotABackend', 'TaskBackend'),
  },
  {
    what: 'a backend that is not a class at all',
    boot: () =>
      bootExpectingFailure({
        tasks: {
          backends: {
            default: {
              backend: 'ImmediateBackend' as unknown as TaskBackendClass,
            },
          },
        },
        providers: [MathTasks],
      }),
    error: InvalidTaskBackendError,
    message: mentions('default', 'TaskBackend'),
  },
  {
    what: 'a backend queue list that is not a list of names',
    boot: () =>
      bootExpectingFailure({
        tasks: {
          backends: {
            default: {
              backend: ImmediateBackend,
              queues: 'default' as unknown as string[],
            },
          },
        },
        providers: [MathTasks],
      }),
    error: InvalidTaskBackendError,
    message: mentions('default', 'queues'),
  },
];

describe('invalid configuration at bootstrap', () => {
  it.each(bootCases)('fails on $what', async ({ boot, error, message }) => {
    await expect(boot()).rejects.toThrow(error);
    await expect(boot()).rejects.toThrow(message);
  });
});

describe('error classes', () => {
  it.each(
    [
      InvalidTaskError,
      InvalidTaskBackendError,
      InvalidTaskArgumentsError,
      TaskResultDoesNotExistError,
      TaskResultMismatchError,
      TaskResultNotReadyError,
      TaskTimeoutError,
      TaskInterruptedError,
    ].map((ErrorType) => [ErrorType.name, ErrorType] as const),
  )(
    '%s extends TasksError and Error and keeps its own name',
    (_name, ErrorType) => {
      const error = new ErrorType('some message');

      expect(error).toBeInstanceOf(TasksError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(ErrorType.name);
      expect(error.message).toBe('some message');
    },
  );
});
