import {
  TaskContext,
  TaskDefinition,
  TaskQueue,
  TaskResult,
} from '../../lib/index.js';
import {
  ContextTasks,
  MailService,
  MathTasks,
  type InspectReport,
} from '../fixtures/tasks.fixtures.js';

// Type-level checks of the TaskQueue API. Nothing here runs: task-queue.types.spec.ts
// compiles this file with the TypeScript compiler and fails on any diagnostic, which
// includes every `@ts-expect-error` that is not needed.

/** True only when X and Y are the same type (not merely assignable). */
type Equals<X, Y> =
  (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2
    ? true
    : false;

/** Compiles only when its type argument is `true`. */
function assertType<T extends true>(value: T): T {
  return value;
}

/** A handler whose payload is typed `any`, as much NestJS code has it. */
class LooseTasks {
  async handle(payload: any): Promise<void> {
    void payload;
  }
}

export function typeChecks(tasks: TaskQueue): void {
  // A first parameter typed `any` is an argument, not the TaskContext.
  assertType<Equals<Parameters<TaskDefinition<[any], void>['enqueue']>, [any]>>(
    true,
  );
  const _loose = tasks.task(LooseTasks, 'handle');
  assertType<Equals<typeof _loose, TaskDefinition<[payload: any], void>>>(true);
  void tasks.enqueue(LooseTasks, 'handle', { a: 1 });
  // @ts-expect-error the payload is still required
  void tasks.enqueue(LooseTasks, 'handle');

  // task(Class, 'method') is typed from the method.
  const add = tasks.task(MathTasks, 'add');
  assertType<Equals<typeof add, TaskDefinition<[number, number], number>>>(
    true,
  );

  // An async method's definition resolves to the awaited value.
  const _sendWelcome = tasks.task(MailService, 'sendWelcome');
  assertType<
    Equals<typeof _sendWelcome, TaskDefinition<[number], { sent: boolean }>>
  >(true);

  // The TaskContext parameter of a takesContext method is not part of Args.
  const _inspect = tasks.task(ContextTasks, 'inspect');
  assertType<Equals<typeof _inspect, TaskDefinition<[string], InspectReport>>>(
    true,
  );

  // enqueue() returns a typed result.
  const _enqueued = tasks.enqueue(MailService, 'sendWelcome', 1);
  assertType<Equals<typeof _enqueued, Promise<TaskResult<{ sent: boolean }>>>>(
    true,
  );

  // By registry name, the types come from the explicit type arguments.
  const _byName = tasks.task<[string], number>('Some.task');
  assertType<Equals<typeof _byName, TaskDefinition<[string], number>>>(true);
  assertType<Equals<ReturnType<typeof _byName.call>, Promise<number>>>(true);

  // getResult<R> types the return value.
  void tasks.getResult<number>('id').then((_result) => {
    assertType<Equals<typeof _result.returnValue, number>>(true);
  });

  // using() keeps the types.
  const _moved = add.using({ priority: 5 });
  assertType<Equals<typeof _moved, TaskDefinition<[number, number], number>>>(
    true,
  );

  // enqueueMany takes a list of argument tuples and returns a list of results.
  const _many = add.enqueueMany([
    [1, 2],
    [3, 4],
  ]);
  assertType<Equals<typeof _many, Promise<TaskResult<number>[]>>>(true);

  // @ts-expect-error the argument must be a number
  void tasks.enqueue(MailService, 'sendWelcome', 'not-a-number');

  // @ts-expect-error missing argument
  void tasks.enqueue(MailService, 'sendWelcome');

  // @ts-expect-error one argument too many
  void tasks.enqueue(MailService, 'sendWelcome', 1, 2);

  // @ts-expect-error no such member
  void tasks.task(MailService, 'sendGoodbye');

  // @ts-expect-error a property that is not a method
  void tasks.task(MailService, 'greeting');

  // @ts-expect-error an array property is not a method either
  void tasks.enqueue(MailService, 'sent');

  // @ts-expect-error the second argument of add is a number
  void add.enqueue(1, '2');

  // @ts-expect-error add takes two arguments
  void add.enqueue(1);

  // @ts-expect-error call() is typed like enqueue()
  void add.call('1', 2);

  // @ts-expect-error enqueueMany takes argument tuples of the right shape
  void add.enqueueMany([[1, 'x']]);

  // @ts-expect-error the context is supplied by the library, not by the caller
  void tasks.enqueue(ContextTasks, 'inspect', {} as TaskContext, 'label');

  // @ts-expect-error the return value is a number, not a string
  void add.call(1, 2).then((value: string) => value);

  // @ts-expect-error definitions are read-only
  add.priority = 3;

  // @ts-expect-error runAfter takes a Date, not a string
  void add.using({ runAfter: '2030-01-01' });
}
