import type { JsonProblem } from './task/json-value.js';

const reason = (error: unknown): string =>
  (error as Error)?.message ?? String(error);

const list = (items: readonly string[]): string =>
  items.length ? items.map((item) => `'${item}'`).join(', ') : '(none)';

/** The migration list that creates the tables named after `tasksTable`, as the application writes it. */
const migrationList = (tasksTable: string): string =>
  tasksTable === 'nestjs_tasks'
    ? 'taskMigrations'
    : `createTaskMigrations('${tasksTable}')`;

/** A count: exact, `~n (estimate)` (from the database's statistics) or `> n` (counting stopped). */
function countFigure(count: number, precision?: string): string {
  if (precision === 'estimate') return `~${count} (estimate)`;
  if (precision === 'more-than') return `> ${count}`;
  return String(count);
}

/**
 * Every message the library raises or logs, in one place: longer than the
 * other files on purpose, so that wording stays consistent and each message
 * is easy to find.
 */
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
  transactionalNotSupported: (
    name: string,
    alias: string,
    backendClass: string,
  ) =>
    `Task '${name}': backend '${alias}' (${backendClass}) cannot run transactional tasks; use a DatabaseBackend, or remove transactional: true.`,
  badMetadata: (name: string, problem: JsonProblem) =>
    `Task '${name}': ${problem.path} ${problem.reason}; metadata must survive a JSON round trip.`,
  badUniqueKey: (name: string, value: unknown) =>
    `Task '${name}': the unique key must be a non-empty string, got ${describe(value)}.`,
  uniqueKeyThrew: (name: string, index: number, error: unknown) =>
    `Task '${name}': its unique.key function threw for argument list ${index} (${reason(error)}); nothing was enqueued.`,
  badUniqueKeyResult: (name: string, index: number, value: unknown) =>
    `Task '${name}': its unique.key function returned ${describe(value)} for argument list ${index}; it must return a non-empty string. Nothing was enqueued.`,
  uniqueKeyTooLong: (name: string, key: string, max: number) =>
    `Task '${name}': the unique key ${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)} is ${key.length} characters long; at most ${max} are stored. ` +
    `Return a shorter key (e.g. a hash of the long one); nothing was enqueued.`,
  invalidArguments: (name: string, problem: JsonProblem) =>
    `Task '${name}': ${problem.path} ${problem.reason}. Task arguments must survive a JSON round trip unchanged; nothing was enqueued.`,
  argumentsNotArray: (name: string, index: number, value: unknown) =>
    `Task '${name}': enqueueMany expects an array of argument lists; entry ${index} is ${describe(value)}.`,
  enqueueManyNeedsArray: (name: string) =>
    `Task '${name}': enqueueMany expects an array of argument lists.`,

  unknownUsingOptions: (
    name: string,
    unknown: readonly string[],
    known: readonly string[],
  ) =>
    `Task '${name}': using() got unknown option(s) ${list(unknown)}; it takes ${list(known)}.`,
  unknownTaskOptions: (
    site: string,
    unknown: readonly string[],
    known: readonly string[],
  ) =>
    `${site}: @Task() got unknown option(s) ${list(unknown)}; it takes ${list(known)}.`,
  nameTooLong: (name: string, what: string, value: string, max: number) =>
    `Task '${name}': the ${what} ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} is ${value.length} characters long; at most ${max} are stored.`,
  workerIdTooLong: (value: string, max: number) =>
    `Worker id '${value}' is ${value.length} characters long; at most ${max} are stored. Pass a shorter --worker-id.`,

  // periodic tasks
  badSchedule: (name: string, value: unknown) =>
    `Task '${name}': schedule must be a cron expression or { cron, timeZone? }, got ${describe(value)}. E.g. schedule: '*/5 * * * *' or { cron: '0 9 * * 1-5', timeZone: 'Europe/Paris' }.`,
  badCron: (name: string, cron: string, problem: string) =>
    `Task '${name}': schedule ${JSON.stringify(cron)} is not a cron expression (${problem}). Use five fields (minute hour day-of-month month day-of-week), or six with seconds first: e.g. '*/5 * * * *' or '*/10 * * * * *'.`,
  unknownTimeZone: (name: string, timeZone: string) =>
    `Task '${name}': schedule time zone ${JSON.stringify(timeZone)} is unknown. Use an IANA time zone name such as 'Europe/Paris', 'America/New_York' or 'UTC'.`,
  cronNeverFires: (name: string, cron: string) =>
    `Task '${name}': schedule ${JSON.stringify(cron)} never falls due (no date matches it). Fix the expression.`,
  scheduledTaskTakesArguments: (name: string, site: string, count: number) =>
    `Task '${name}' (${site}) has a schedule but requires ${count} argument(s); workers enqueue periodic tasks without arguments. Remove its parameters or give them default values, or enqueue it yourself instead of scheduling it.`,
  enqueueingTick: (name: string, tick: Date) =>
    `enqueueing the tick ${tick.toISOString()} of periodic task '${name}'`,

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
    `Task result '${id}' is ${status}: it has finished, and only a READY or RUNNING result can be cancelled.`,
  cannotRetry: (id: string, status: string) =>
    `Task result '${id}' is ${status}: only a FAILED or CANCELLED result can be retried.`,
  retryDamaged: (id: string, problem: string) =>
    `Task result '${id}' cannot be retried, its stored state being damaged: ${problem} Enqueue the task again with its arguments instead.`,
  retryHeldKey: (id: string, uniqueKey: string) =>
    `Task result '${id}' cannot be retried: another READY or RUNNING result holds its unique key ${JSON.stringify(uniqueKey)}. Retry it once that one has finished.`,
  badResultCursor: (value: string) =>
    `'${value}' is not a cursor of this results list (it comes from the 'next' of the page before, and a list of a finished status has cursors of its own). Start again from the first page.`,
  badResultFilter: (field: string, value: unknown, expected: string) =>
    `The results filter '${field}' must be ${expected}, got ${describe(value)}.`,
  taskCancelled: (id: string, taskName: string) =>
    `Task ${id} (${taskName}) was cancelled while it ran: its attempt should stop now; the result ends CANCELLED and is not retried.`,

  // outbox
  outboxOf: (alias: string) => `The outbox of backend '${alias}'`,
  badOutboxOption: (alias: string, problem: string) =>
    `Backend '${alias}': 'outbox' ${problem}`,
  outboxNotAnObject: (value: unknown) =>
    `must be an object such as { dataSource: 'default' }, got ${describe(value)}.`,
  outboxNotSupported: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) cannot have an 'outbox': it cannot store a result relayed from the outbox at most once (its supportsRelay is false). ` +
    `Remove 'outbox', or use a backend that supports it (BullMQBackend, a DatabaseBackend on another DataSource).`,
  outboxWithoutEnqueueOnCommit: (alias: string) =>
    `Backend '${alias}': 'outbox' relays enqueues once their transaction has committed, and 'enqueueOnCommit: false' dispatches them at once. Remove one of the two.`,
  outboxNotNeeded: (alias: string, dataSource: unknown) =>
    `Backend '${alias}' (DatabaseBackend): 'outbox' is not needed on its own DataSource ${typeof dataSource === 'string' ? `'${dataSource}'` : '(the same instance)'}: ` +
    `an enqueue inside a transaction there is already written in it. Remove 'outbox', or give it the other DataSource whose transactions enqueue to this backend.`,
  relayNotSupported: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) cannot relay enqueues from an outbox: it does not implement storedIds(). Remove the alias's 'outbox'.`,
  outboxTableMissing: (
    alias: string,
    table: { name: string; tasksTable: string; migration: string },
    problem: string,
  ) =>
    `Backend '${alias}': the outbox table '${table.name}' is missing or outdated (${problem}). ` +
    `Add ${migrationList(table.tasksTable)} to the migrations of the outbox's DataSource and run them (its migration ${table.migration} creates this table), ` +
    `or set synchronize: true on it in development.`,
  outboxCheckFailed: (alias: string, cause: string) =>
    `Backend '${alias}': the outbox's database could not be checked: ${cause}`,
  outboxWriteFailed: (
    alias: string,
    name: string,
    count: number,
    cause: string,
  ) =>
    `Backend '${alias}': ${count} enqueue(s) of task '${name}' could not be written to the outbox in your transaction: ${cause}. ` +
    `Nothing is enqueued; check that the outbox table exists on the transaction's DataSource (tasks:check).`,
  outboxRelayStalled: (alias: string, count: number, ms: number) =>
    `Backend '${alias}' did not store ${count} relayed outbox row(s) within ${ms} ms: they stay in the outbox and are relayed again once the sweep's hold on them runs out. Check that the backend's store (Redis, its database) answers.`,
  outboxRelayFailed: (alias: string, name: string, count: number) =>
    `Task '${name}': ${count} enqueue(s) committed to the outbox of backend '${alias}' could not be relayed to it after the commit. ` +
    `They stay in the outbox, and a worker of '${alias}' (tasks:work or the in-process worker) relays them once the backend answers: do not enqueue them again.`,
  outboxRemoveFailed: (alias: string, count: number, error: unknown) =>
    `Backend '${alias}': ${count} task(s) relayed from the outbox could not be deleted from it (${reason(error)}); a worker's sweep deletes them later, without storing them twice.`,
  outboxRelayed: (alias: string, count: number) =>
    `Backend '${alias}': relayed ${count} task(s) from its outbox, committed by a process that did not relay them itself.`,
  outboxRowUnreadable: (
    alias: string,
    id: string,
    problem: string,
    asideMs: number,
  ) =>
    `Backend '${alias}': the outbox row of task ${id} cannot be read (${problem}); it is left in the outbox table, tried again in ${Math.round(asideMs / 60_000)} min. Look into it, then delete it.`,

  outboxRowRefused: (
    alias: string,
    id: string,
    problem: string,
    asideMs: number,
  ) =>
    `Backend '${alias}' refused the outbox row of task ${id} (${problem}) while it stored the others; the row is left in the outbox table, tried again in ${Math.round(asideMs / 60_000)} min. Look into it, then delete it.`,

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

  // backends
  backendNotAttached: (alias: string) =>
    `Backend '${alias}' is not attached to a TasksModule; create backends through TasksModule.forRoot().`,
  backendClosed: (alias: string) =>
    `Backend '${alias}' (DatabaseBackend) is closed: the application is shutting down.`,
  badDatabaseOption: (alias: string, problem: string) =>
    `Backend '${alias}' (DatabaseBackend): ${problem}`,
  unknownOptions: (unknown: readonly string[], known: readonly string[]) =>
    `unknown option(s) ${unknown.join(', ')}; it takes ${known.join(', ')}.`,
  badDataSourceOption: (value: unknown) =>
    `'dataSource' must be a TypeORM DataSource or the name of one, got ${describe(value)}.`,
  badTableName: (value: unknown) =>
    `'tableName' must be a plain SQL identifier (letters, digits, underscores; at most 54 characters), got ${describe(value)}.`,
  badLeaseMs: (value: unknown, min: number) =>
    `'leaseMs' must be an integer number of milliseconds of at least ${min}, got ${describe(value)}.`,
  dataSourceMissing: (who: string, name: string) =>
    `${who}: no TypeORM DataSource named '${name}' is provided in this application. ` +
    `Register it with TypeOrmModule.forRoot(${name === 'default' ? '' : `{ name: '${name}', … }`}) or pass a DataSource instance.`,
  unsupportedDatabase: (types: readonly string[], type: unknown) =>
    `DatabaseBackend supports PostgreSQL, MySQL/MariaDB and SQLite (TypeORM types ${types.join(', ')}); this DataSource is '${String(type)}'.`,
  tablesMissing: (
    alias: string,
    tables: { tasks: string; workers: string; schedules: string },
    problem: string,
  ) =>
    `Backend '${alias}' (DatabaseBackend): the tables '${tables.tasks}', '${tables.workers}' and '${tables.schedules}' are missing or outdated (${problem}). ` +
    `Add ${migrationList(tables.tasks)} to your DataSource's migrations and run them` +
    `, or set synchronize: true on the DataSource in development.`,
  schemaBehind: (
    alias: string,
    tables: { tasks: string; workers: string; schedules: string },
    differences: readonly string[],
  ) =>
    `Backend '${alias}' (DatabaseBackend): the tables '${tables.tasks}', '${tables.workers}' and '${tables.schedules}' are behind this version of nestjs-tasks (${differences.join('; ')}). ` +
    `Run the migrations this version appends to ${migrationList(tables.tasks)} ` +
    `(e.g. npx typeorm migration:run -d <your data source file>). synchronize: true never alters existing tables: in development, drop them and restart.`,
  checkFailed: (alias: string, cause: string) =>
    `Backend '${alias}' (DatabaseBackend): the database could not be checked: ${cause}`,
  bullmqClosed: (alias: string) =>
    `Backend '${alias}' (BullMQBackend) is closed: the application is shutting down.`,
  badBullMQOption: (alias: string, problem: string) =>
    `Backend '${alias}' (BullMQBackend): ${problem}`,
  badRedisConnection: (value: unknown) =>
    `'connection' must be ioredis options ({ host, port, … }) or an ioredis instance, got ${describe(value)}.`,
  badRedisPrefix: (value: unknown) =>
    `'prefix' must be a non-empty string without ':', got ${describe(value)}.`,
  badBullMQPassThrough: (name: string) =>
    `'${name}' must be an object of BullMQ options.`,
  reservedBullMQOptions: (name: string, keys: readonly string[]) =>
    `'${name}' must not set ${list(keys)}: give them as the backend's own options, which every queue and worker of it shares.`,
  bullmqRemovingOptions: (name: string, keys: readonly string[]) =>
    `'${name}' must not set ${list(keys)}${name === 'workerOptions' ? '' : ' to true'}: BullMQ would delete finished jobs, which hold the tasks' results (a worker's move of a job could also fail after running it). Results are kept until tasks:prune deletes them; remove ${list(keys)} from '${name}'.`,
  badLockDuration: (value: unknown, min: number) =>
    `'workerOptions.lockDuration' (the lease of a claimed task) must be an integer number of milliseconds of at least ${min}, got ${describe(value)}.`,
  badStalledInterval: (value: unknown) =>
    `'workerOptions.stalledInterval' must be a positive integer number of milliseconds, got ${describe(value)}.`,
  bullmqMissing: (alias: string, error: unknown) =>
    `Backend '${alias}' (BullMQBackend) needs the package 'bullmq', which could not be loaded (${reason(error)}). Install it: npm install bullmq`,
  bullmqQueueName: (name: string, queueName: string) =>
    `Task '${name}': queue name '${queueName}' cannot be a BullMQ queue name (it contains ':'); choose one without ':'.`,
  redisUnreachable: (alias: string, where: string, error: unknown) =>
    `Backend '${alias}' (BullMQBackend): Redis at ${where} is not reachable (${reason(error)}). ` +
    `Check that Redis is running there and that the backend's 'connection' option names it.`,
  bullmqEnqueueFailed: (
    alias: string,
    name: string,
    count: number,
    cause: string,
  ) =>
    `Backend '${alias}' (BullMQBackend): ${count} enqueue(s) of task '${name}' could not be stored: ${cause} ` +
    `Nothing is known to be stored: check the result ids with getResult() before enqueueing again.`,
  bullmqCheckFailed: (alias: string, cause: string) =>
    `Backend '${alias}' (BullMQBackend): Redis could not be checked: ${cause}`,
  bullmqRemovesResults: (alias: string, options: readonly string[]) =>
    `Backend '${alias}' (BullMQBackend): queueOptions.defaultJobOptions sets ${list(options)}: BullMQ then deletes finished jobs, ` +
    `and getResult() of those tasks fails with TaskResultDoesNotExistError. Remove them and delete finished results with tasks:prune instead.`,
  bullmqJobOptionsIgnored: (alias: string, options: readonly string[]) =>
    `Backend '${alias}' (BullMQBackend): queueOptions.defaultJobOptions sets ${list(options)}, which the backend sets itself for every task ` +
    `(from the task's priority, runAfter, maxAttempts, retryDelay and unique key); they are ignored.`,
  bullmqCancelRaced: (alias: string, id: string, tries: number) =>
    `Backend '${alias}' (BullMQBackend): task result '${id}' changed state ${tries} times while it was being cancelled; cancel it again.`,
  bullmqEvictionPolicy: (alias: string, policy: string) =>
    `Backend '${alias}' (BullMQBackend): Redis evicts keys (maxmemory-policy ${policy}), which can delete tasks; set maxmemory-policy noeviction.`,
  bullmqCancelledReason: () => 'Cancelled through TaskQueue.cancel()',
  packetTooLarge: (bytes: number, max: number) =>
    `The statement would be ${bytes} bytes, more than the server's max_allowed_packet (${max}); raise max_allowed_packet or store less.`,
  enqueueRefused: (alias: string, name: string, count: number, cause: string) =>
    `Backend '${alias}' (DatabaseBackend): the database refused ${count} enqueue(s) of task '${name}' (${cause}). ` +
    `The arguments or metadata are too large or invalid for it (on MySQL/MariaDB, raise max_allowed_packet for large arguments); nothing was stored.`,
  enqueueFailed: (alias: string, name: string, count: number, cause: string) =>
    `Backend '${alias}' (DatabaseBackend): ${count} enqueue(s) of task '${name}' could not be stored: ${cause}. ` +
    `Check that the database is reachable; nothing was stored.`,
  enqueueRaced: (alias: string, name: string, count: number, cause: string) =>
    `Backend '${alias}' (DatabaseBackend): ${count} enqueue(s) of task '${name}' lost a race with another transaction (${cause}): ` +
    `a deadlock, a serialization failure or a lock wait that timed out. ` +
    `Nothing of it was stored, and a transaction it was in may have been rolled back by the database: run that transaction (or the enqueue) again.`,
  uniqueKeysUnsettled: (
    name: string,
    keys: readonly string[],
    rounds: number,
  ) =>
    `Task '${name}': ${rounds} times in a row, the unique key(s) ${list(keys.slice(0, 5))}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''} were held, and the result holding them had finished before this enqueue could read it. Nothing was stored; enqueue again.`,
  ownConnectionFailed: (who: string, error: unknown) =>
    `${who}: a connection of its own could not be prepared (${reason(error)}); it shares the application's.`,
  walUnavailable: (mode: string, error: unknown) =>
    `SQLite stays in '${mode}' journal mode (${reason(error)}); set enableWAL: true in the DataSource options so that workers can read while another connection writes.`,
  takeSqlMissing: (dialect: string) =>
    `${dialect} takes rows in more than one statement and overrides take().`,
  corruptRow: (taskName: string, problems: readonly string[]) =>
    `Stored row of task '${taskName}' cannot be run: ${problems.join('; ')}.`,
  corruptJob: (taskName: string, problems: readonly string[]) =>
    `Stored job of task '${taskName}' cannot be run: its data is not JSON of the expected shape (${problems.join('; ')}).`,
  workerIdInUse: (workerId: string, alias: string) =>
    `Worker id '${workerId}' is in use by a live worker on backend '${alias}'. ` +
    `Give every worker its own --worker-id (or none: the default is unique).`,
  leaseExpired: (workerId: string, taskName: string, attempt: number) =>
    `Worker ${workerId} stopped heartbeating while running task '${taskName}' (attempt ${attempt}); its lease expired.`,

  // workers
  noWorkerQueue: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) has no queue for workers to consume; ` +
    `tasks:work and the in-process worker need a backend such as DatabaseBackend.`,
  workerQueueNotAccepted: (
    alias: string,
    queue: string,
    queues: readonly string[],
  ) =>
    `Backend '${alias}' does not accept queue '${queue}' (its queues: ${list(queues)}); pick queues it lists, or '*'.`,
  badWorkerOption: (name: string, value: unknown, min: number) =>
    `Worker option '${name}' must be a whole number of at least ${min}, got ${describe(value)}.`,
  workerStarted: (
    workerId: string,
    alias: string,
    queues: readonly string[] | null,
    concurrency: number,
  ) =>
    `Worker ${workerId} started on backend '${alias}', queues ${queues ? queues.join(', ') : '*'}, concurrency ${concurrency}`,
  workerStopped: (workerId: string, aborted: boolean, started: number) =>
    `Worker ${workerId} stopped (${aborted ? 'aborted' : 'drained'}) after ${started} task(s)`,
  unregisterFailed: (workerId: string, error: unknown) =>
    `Could not unregister worker ${workerId}: ${reason(error)}`,
  runFailedUnexpectedly: (id: string) =>
    `Running task ${id} failed unexpectedly`,
  recordFailed: (id: string) =>
    `Recording the outcome of task ${id} failed; once its lease runs out this worker's heartbeat hands it back as an interrupted attempt`,
  drainWaiting: (ms: number, count: number) =>
    `Waiting up to ${ms} ms for ${count} running task(s)`,
  workerShuttingDown: (workerId: string) =>
    `Worker ${workerId} is shutting down.`,
  workerStoppedTask: (workerId: string) =>
    `Worker ${workerId} was stopped while the task ran.`,
  interrupted: (count: number) => `Interrupted ${count} running task(s)`,
  outcomeRefused: (id: string, taskName: string, refusal: unknown) =>
    `The outcome of task ${id} (${taskName}) was refused by the database and recorded as FAILED: ${reason(refusal)}`,
  outcomeRefusedEntirely: (id: string, refusal: unknown) =>
    `The database refused every form of the outcome of task ${id}: ${reason(refusal)}`,
  outcomeNotStored: (attempt: number, message: string) =>
    `The outcome of attempt ${attempt} could not be stored: ${message}`,
  storeUnreachable: (alias: string, what: string, error: unknown) =>
    `Backend '${alias}' cannot be reached (${what}: ${reason(error)}); the worker keeps its tasks and retries until it answers. Logged once per outage.`,
  storeReachable: (alias: string, ms: number) =>
    `Backend '${alias}' answers again after ${Math.round(ms / 100) / 10} s.`,
  leaseLost: (id: string, taskName: string, workerId: string) =>
    `Task ${id} (${taskName}) is no longer held by worker ${workerId}: the store handed it to another worker. Its attempt here is stopped and its outcome discarded.`,
  releaseFailed: (ids: readonly string[], error: unknown) =>
    `Could not hand back ${ids.length} claimed task(s) that never started (${ids.join(', ')}): ${reason(error)}. Once this worker is gone and their lease has run out, another worker rescues them (each counted as an interrupted attempt).`,
  outcomeDiscarded: (id: string, taskName: string, workerId: string) =>
    `The outcome of task ${id} (${taskName}) was discarded: worker ${workerId} no longer held it (another worker rescued it after its lease ran out).`,
  workerPaused: (workerId: string, ms: number, leaseMs: number) =>
    `Worker ${workerId} did not heartbeat for ${Math.round(ms / 100) / 10} s, longer than its lease (${leaseMs} ms): its event loop was blocked, the process was paused, or a heartbeat waited on the database. Its live session keeps its tasks.`,
  outcomesNotRecorded: (ids: readonly string[]) =>
    `The outcomes of ${ids.length} task(s) could not be recorded before the shutdown timeout (${ids.join(', ')}); once this worker is gone and their lease has run out, another worker rescues them.`,
  inProcessWorkerRestart: (delayMs: number) =>
    `The in-process worker restarts in ${Math.round(delayMs / 1000)} s.`,
  inProcessWorkerStopped: (error: unknown) =>
    `The in-process worker stopped: ${reason(error)}. Run 'nest-tasks tasks:check' to diagnose.`,

  // module, testing, transactions
  badAsyncOptions: (given: number) =>
    `TasksModule.forRootAsync() takes exactly one of useFactory, useClass or useExisting (${given} given).`,
  testingWithoutTasksModule: () =>
    `TasksTestingModule.forRoot() replaces the backends of the application's TasksModule, and none is imported. ` +
    `Import TasksModule.forRoot() (or forRootAsync()) beside it, as the application does.`,
  noDatabaseInTesting: (call: string) =>
    `${call} cannot run: under TasksTestingModule, TaskQueue.transaction() runs without a database because the application registers no TypeORM DataSource. ` +
    'Stub the providers that write through this manager, or register a DataSource to test against a real database.',
  joiningTransactions: (source: string) =>
    `Enqueues join ${source} transactions`,
  heldDispatchFailed: () => 'Dispatching held enqueues failed',
  requestAbandoned: () =>
    'A request ended before its handler finished; the enqueues it held were dropped',
  transactionHookFailed: () => 'A transaction hook failed',

  // health checks
  healthUnreachable: (alias: string, backendClass: string, error: unknown) =>
    `Backend '${alias}' (${backendClass}) did not answer: ${reason(error)}. Check that its database is up and reachable from this process.`,
  healthNoAdmin: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) has no workers or queue to check: drop 'minWorkers' and 'maxReadyAgeMs', or check a backend that workers consume (DatabaseBackend).`,
  healthTooFewWorkers: (alias: string, live: number, minWorkers: number) =>
    `Backend '${alias}' has ${live} live worker(s), fewer than minWorkers ${minWorkers}: start workers (nest-tasks tasks:work) or check why theirs stopped heartbeating.`,
  healthReadyTooOld: (alias: string, ageMs: number, maxReadyAgeMs: number) =>
    `Backend '${alias}': the oldest due READY task has waited ${ageMs} ms, longer than maxReadyAgeMs ${maxReadyAgeMs}: workers are missing, stuck or too few for the load.`,

  // commands
  appModuleMissing: () =>
    `nest-tasks needs the application's root module: pass --app dist/app.module.js#AppModule or add "nestTasks": { "app": "dist/app.module.js#AppModule" } to package.json.`,
  appModuleFileMissing: (
    path: string,
    from: string,
    found: readonly string[],
  ) =>
    `nest-tasks: the application module ${path} (from ${from}) does not exist. ` +
    (found.length
      ? `This directory has ${found.join(' and ')}: name it instead. `
      : 'Build the application first (nest build). ') +
    'Nest builds put src/app.module.ts at dist/app.module.js, or at dist/src/app.module.js when files outside src/ are compiled too. ' +
    `Name the file with --app <file>#AppModule, or with "nestTasks": { "app": "<file>#AppModule" } in package.json.`,
  appModuleExportMissing: (
    file: string,
    exportName: string,
    exports: readonly string[],
  ) =>
    `${file} has no export '${exportName}' (exports: ${exports.join(', ') || 'none'}); name it after '#'.`,
  badDuration: (value: string) =>
    `'${value}' is not a duration; use a number with ms, s, m, h, d or w (e.g. 7d, 12h, 30m).`,
  badWholeNumber: (value: string, min: number) =>
    `'${value}' must be a whole number of at least ${min}.`,
  notAFinishedStatus: (value: string, finished: readonly string[]) =>
    `'${value}' is not a finished status; use ${finished.join(', ')}.`,
  nothingToPrune: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) keeps no results to prune.`,
  pruneOutboxUnswept: (alias: string, reason: string) =>
    `Nothing pruned on backend '${alias}': its outbox could not be swept first (${reason}). A row left there by a cut-short relay would run its task again once its result is pruned. Run tasks:prune again when the outbox's database answers.`,
  pruned: (
    count: number,
    statuses: readonly string[],
    dryRun: boolean,
    precision?: string,
  ) =>
    `${dryRun ? 'Would delete' : 'Deleted'} ${countFigure(count, precision)} result(s) (${statuses.join(', ')}).`,
  /** A count as `tasks:status`, `tasks:prune` and the dashboard show it: exact, `~n (estimate)` or `> n`. */
  countFigure: (count: number, precision?: string) =>
    countFigure(count, precision),
  countsLegend: (allQueues: string) =>
    `~n (estimate): read off the database's statistics, not counted. > n: counting stopped after n rows. ` +
    `Queue ${allQueues}: every queue, for a status with more rows than are counted queue by queue.`,
  backendHeading: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass})`,
  noAdministrableBackend: () => 'No backend keeps results to report on.',
  periodicHeading: () => 'Periodic tasks',
  checkOk: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}): OK`,
  // dashboard
  dashboardWithoutGuard: () =>
    `TasksDashboardModule.forRoot() needs a 'guard': a CanActivate class that decides who may see and act on tasks (e.g. your admin guard). To serve the dashboard to anyone who reaches it (only on a private network), pass 'public: true' instead.`,
  dashboardBadGuard: (value: unknown) =>
    `TasksDashboardModule.forRoot(): 'guard' must be a class implementing CanActivate, got ${describe(value)}.`,
  dashboardBadPath: (value: unknown) =>
    `TasksDashboardModule.forRoot(): 'path' must be a URL path such as '/tasks' (letters, digits, '-', '_', '.', '/'), got ${describe(value)}.`,
  dashboardPublic: (path: string) =>
    `The tasks dashboard at '${path}' is public (no guard): anyone who reaches it sees task data. Give TasksDashboardModule.forRoot() a 'guard' unless only a private network reaches it.`,
  dashboardBadDecorators: (value: unknown) =>
    `TasksDashboardModule.forRoot(): 'decorators' must be an array of class decorators (e.g. [Roles('admin')]), got ${describe(value)}.`,
  dashboardBadCsrfSecret: (value: unknown) =>
    `TasksDashboardModule.forRoot(): 'csrfSecret' must be a string of at least 32 characters (e.g. from an environment variable, the same in every replica), got ${typeof value === 'string' ? `${value.length} characters` : describe(value)}.`,
  dashboardCsrfPerProcess: (path: string) =>
    `The tasks dashboard at '${path}' signs its CSRF tokens with a secret of this process: with several processes or replicas behind one address, give TasksDashboardModule.forRoot() the same 'csrfSecret' in each, or forms served by one are refused by another.`,
  dashboardForbidden: () => `The dashboard's guard refused this request.`,
  dashboardCrossSite: () =>
    `This action comes from another site (by its Origin or Sec-Fetch-Site header) and is refused. Submit it from the dashboard's own pages.`,
  dashboardBadField: (field: string, value: unknown) =>
    `The field '${field}' must be given once, as text; got ${describe(value)}.`,
  dashboardBulkWithoutFilter: () =>
    `A bulk action needs a filter (task, status, queue or id): filter the results list first, then act on what it shows.`,
  dashboardNoAction: (action: string) =>
    `The dashboard has no action '${action}': retry or cancel.`,
  dashboardReadOnly: () =>
    `This dashboard is read-only. Mount it with TasksDashboardModule.forRoot({ readOnly: false, guard }) to retry and cancel tasks from it.`,
  dashboardCsrf: () =>
    `The form's CSRF token is missing or does not match this browser's cookie. Reload the page and submit again.`,
  dashboardNoResultsAdmin: (alias: string, backendClass: string) =>
    `Backend '${alias}' (${backendClass}) offers no result browsing: the dashboard shows its counts and workers only.`,
  dashboardBadFilter: (field: string, value: string) =>
    `The filter '${field}' cannot be ${JSON.stringify(value)}.`,

  stopSignal: (signal: string) =>
    `${signal} received: no new tasks are claimed; running tasks may finish (send it again to abort them)`,
  abortSignal: (signal: string) =>
    `${signal} received again: aborting running tasks`,
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
