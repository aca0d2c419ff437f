import type { JsonProblem } from './task/json-value.js';

const list = (items: readonly string[]): string =>
  items.length ? items.map((item) => `'${item}'`).join(', ') : '(none)';

/** Every message the library raises or logs, in one place. */
export const TaskMessages = {
  // configuration
  noBackends: () =>
    `TasksModule has an empty 'backends' map. Omit 'backends' for the default ImmediateBackend, or configure at least 'default'.`,
  defaultBackendMissing: (aliases: readonly string[]) =>
    `TasksModule 'backends' has no 'default' alias (configured: ${list(aliases)}). Add a 'default' entry: every task without a 'backend' option uses it.`,
  notABackendClass: (alias: string, value: unknown) =>
    `Backend '${alias}': 'backend' must be a class extending TaskBackend (ImmediateBackend, DummyBackend, DatabaseBackend or your own), got ${describe(value)}.`,
  badQueueList: (alias: string, value: unknown) =>
    `Backend '${alias}': 'queues' must be an array of non-empty strings (or [] for any queue), got ${describe(value)}.`,
  unknownBackend: (
    alias: string,
    known: readonly string[],
    taskName?: string,
  ) =>
    `${taskName ? `Task '${taskName}' uses backend` : 'Backend'} '${alias}', which is not configured (configured: ${list(known)}). Add '${alias}' to TasksModule.forRoot({ backends }) or use one of the configured aliases.`,
  unsupportedRequestLifecycle: (value: unknown) =>
    `TasksModule 'requestLifecycle' must be 'immediate' or 'after-response', got ${describe(value)}.`,

  // discovery
  duplicateTaskName: (name: string, first: string, second: string) =>
    `Two tasks are named '${name}': ${first} and ${second}. Give one of them a distinct @Task({ name }).`,
  requestScopedTask: (site: string) =>
    `${site} is a @Task() on a request-scoped provider. Tasks run outside any request: make the provider singleton-scoped (the default) and pass request data as arguments.`,
  requestScopedListener: (site: string) =>
    `${site} is an @OnTaskEvent() listener on a request-scoped provider. Task events happen outside any request: make the provider singleton-scoped (the default).`,
  scheduleNotSupported: (site: string) =>
    `${site} sets @Task({ schedule }), which this version of nestjs-tasks does not run yet. Remove it and enqueue the task from your own scheduler (e.g. @nestjs/schedule) for now.`,
  notATaskMethod: (site: string) =>
    `${site} is not a @Task() method. Decorate it with @Task() or pass the name of a decorated method.`,
  taskProviderMissing: (name: string, site: string) =>
    `Task '${name}' (${site}) is not registered: its class is not a provider of any module of this application. Add it to a module's 'providers'.`,
  unknownTaskName: (name: string, known: readonly string[]) =>
    `No task is registered under the name '${name}' (registered: ${list(known)}). Check @Task({ name }) or use task(Class, 'method').`,

  // validation
  badPriority: (name: string, value: unknown) =>
    `Task '${name}': priority must be an integer from -100 to 100, got ${describe(value)}.`,
  priorityNotSupported: (name: string, alias: string, backendClass: string) =>
    `Task '${name}': backend '${alias}' (${backendClass}) does not support priorities; remove the priority or use a backend that supports them.`,
  badQueueName: (name: string, value: unknown) =>
    `Task '${name}': queueName must be a non-empty string, got ${describe(value)}.`,
  queueNotAllowed: (
    name: string,
    queue: string,
    alias: string,
    queues: readonly string[],
  ) =>
    `Task '${name}' uses queue '${queue}', which backend '${alias}' does not accept (its queues: ${list(queues)}). Add '${queue}' to backends.${alias}.queues, or use one of those queues.`,
  deferNotSupported: (name: string, alias: string, backendClass: string) =>
    `Task '${name}': backend '${alias}' (${backendClass}) cannot defer tasks, so runAfter must be null. Use a backend that supports defer (DatabaseBackend, DummyBackend).`,
  badRunAfter: (name: string, value: unknown) =>
    `Task '${name}': runAfter must be a valid Date or null, got ${describe(value)}.`,
  badMaxAttempts: (name: string, value: unknown) =>
    `Task '${name}': maxAttempts must be a positive integer, got ${describe(value)}.`,
  badTimeout: (name: string, value: unknown) =>
    `Task '${name}': timeout must be a positive number of milliseconds, got ${describe(value)}.`,
  badRetryDelay: (name: string, value: unknown) =>
    `Task '${name}': retryDelay must be a non-negative number of milliseconds or a function (attempt) => ms, got ${describe(value)}.`,
  badMetadata: (name: string, problem: JsonProblem) =>
    `Task '${name}': ${problem.path} ${problem.reason}; metadata must survive a JSON round trip.`,
  badUniqueKey: (name: string, value: unknown) =>
    `Task '${name}': the unique key must be a non-empty string, got ${describe(value)}.`,
  invalidArguments: (name: string, problem: JsonProblem) =>
    `Task '${name}': ${problem.path} ${problem.reason}. Task arguments must survive a JSON round trip unchanged; nothing was enqueued.`,
  argumentsNotArray: (name: string, index: number, value: unknown) =>
    `Task '${name}': enqueueMany expects an array of argument lists; entry ${index} is ${describe(value)}.`,
  enqueueManyNeedsArray: (name: string) =>
    `Task '${name}': enqueueMany expects an array of argument lists.`,

  // results
  resultDoesNotExist: (id: string, alias: string) =>
    `No task result with id '${id}' exists on backend '${alias}'.`,
  resultMismatch: (id: string, actual: string, expected: string) =>
    `Task result '${id}' belongs to task '${actual}', not '${expected}'.`,
  resultNotReady: (id: string, name: string, status: string) =>
    `Task result '${id}' of '${name}' is ${status}; returnValue is only available once it is SUCCESSFUL.`,
  getResultNotSupported: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) does not keep results to look up (supportsGetResult is false). Use the result returned by enqueue, or a backend that stores results.`,
  cancelNotSupported: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) cannot cancel results.`,
  cannotCancel: (id: string, status: string) =>
    `Task result '${id}' is ${status}; only a READY result can be cancelled.`,

  dispatchFailed: (name: string, count: number) =>
    `Task '${name}': ${count} enqueue(s) held until a commit could not be stored after it; the committed work stands, the task(s) were not enqueued.`,

  // execution
  taskNotRegistered: (name: string) =>
    `Task '${name}' is not registered in this process: no @Task() method has this name. Deploy the code that defines it, or prune results of removed tasks.`,
  returnValueNotJson: (name: string, problem: JsonProblem) =>
    `Task '${name}' returned a value that cannot be stored: ${problem.path} ${problem.reason}. Return only JSON-safe values.`,
  timedOut: (name: string, ms: number) =>
    `Task '${name}' did not finish within its timeout of ${ms} ms.`,
  badProgress: (name: string, value: unknown) =>
    `Task '${name}': setProgress expects a fraction from 0 to 1, got ${describe(value)}.`,
  listenerFailed: (event: string, site: string) =>
    `@OnTaskEvent('${event}') listener ${site} threw; the task is unaffected.`,
  badEventName: (value: unknown) =>
    `@OnTaskEvent() takes 'enqueued', 'started', 'finished' or 'dispatchFailed', got ${describe(value)}.`,
};

/** A short, safe description of any value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'bigint') return `${value}n (a BigInt)`;
  if (typeof value === 'function')
    return `function ${value.name || '(anonymous)'}`;
  if (value instanceof Date)
    return Number.isNaN(value.getTime())
      ? 'an invalid Date'
      : `Date ${value.toISOString()}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object')
    return `an instance of ${value.constructor?.name ?? 'Object'}`;
  return String(value);
}
