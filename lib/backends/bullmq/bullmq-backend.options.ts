import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';

/**
 * Where Redis is: ioredis connection options (`{ host, port, password, db,
 * tls, … }`) or an ioredis instance, which is then shared, not closed.
 */
export type BullMQConnection = Record<string, unknown>;

/** `options` of a BullMQBackend entry. */
export interface BullMQBackendOptions {
  /** Redis: ioredis options or an ioredis instance. Default `{ host: '127.0.0.1', port: 6379 }`. */
  connection?: BullMQConnection;
  /** Namespaces every Redis key of the backend's queues. Default `'nestjs-tasks'`. */
  prefix?: string;
  /** Passed to every BullMQ `Queue` (one per task queue), e.g. `{ defaultJobOptions: { … } }`. */
  queueOptions?: Record<string, unknown>;
  /**
   * Passed to every BullMQ `Worker` a worker claims through, e.g.
   * `{ lockDuration, stalledInterval }`: `lockDuration` is the lease of a
   * claimed task (default 30000), `stalledInterval` how often workers look
   * for tasks whose worker stopped heartbeating (default the lease).
   */
  workerOptions?: Record<string, unknown>;
}

export interface ResolvedBullMQOptions {
  connection: BullMQConnection;
  prefix: string;
  queueOptions: Record<string, unknown>;
  workerOptions: Record<string, unknown>;
  /** The lease of a claimed task: BullMQ's lock duration. */
  leaseMs: number;
  /** How often a claiming process moves tasks of silent workers back. */
  stalledIntervalMs: number;
}

export const DEFAULT_BULLMQ_PREFIX = 'nestjs-tasks';
const DEFAULT_LEASE_MS = 30_000;
const MIN_LEASE_MS = 500;
/** Options BullMQ takes from its own fields of the backend: setting them through queueOptions/workerOptions would split the two. */
const RESERVED = ['connection', 'prefix'];

/** BullMQ's options that delete finished jobs: the results the backend keeps until tasks:prune. */
export const REMOVING_JOB_OPTIONS = ['removeOnComplete', 'removeOnFail'];

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An ioredis instance (as opposed to options): it can duplicate itself. */
export const isRedisInstance = (value: unknown): boolean =>
  isPlainObject(value) &&
  typeof (value as { duplicate?: unknown }).duplicate === 'function';

/** Checks a BullMQBackend's options, naming the alias and the fix on any mistake. */
export function resolveBullMQOptions(
  alias: string,
  options: Readonly<Record<string, unknown>>,
): ResolvedBullMQOptions {
  const fail = (message: string): never => {
    throw new InvalidTaskBackendError(
      TaskMessages.badBullMQOption(alias, message),
    );
  };
  const known = ['connection', 'prefix', 'queueOptions', 'workerOptions'];
  const unknown = Object.keys(options).filter((key) => !known.includes(key));
  if (unknown.length) fail(TaskMessages.unknownOptions(unknown, known));
  const {
    connection = { host: '127.0.0.1', port: 6379 },
    prefix = DEFAULT_BULLMQ_PREFIX,
    queueOptions = {},
    workerOptions = {},
  } = options;
  if (!isPlainObject(connection))
    fail(TaskMessages.badRedisConnection(connection));
  if (typeof prefix !== 'string' || prefix === '' || prefix.includes(':'))
    fail(TaskMessages.badRedisPrefix(prefix));
  for (const [name, value] of [
    ['queueOptions', queueOptions],
    ['workerOptions', workerOptions],
  ] as const) {
    if (!isPlainObject(value)) fail(TaskMessages.badBullMQPassThrough(name));
    const reserved = RESERVED.filter(
      (key) => key in (value as Record<string, unknown>),
    );
    if (reserved.length)
      fail(TaskMessages.reservedBullMQOptions(name, reserved));
  }
  const worker = workerOptions as Record<string, unknown>;
  const removing = REMOVING_JOB_OPTIONS.filter(
    (key) => worker[key] !== undefined,
  );
  if (removing.length)
    fail(TaskMessages.bullmqRemovingOptions('workerOptions', removing));
  const defaults = (queueOptions as Record<string, unknown>).defaultJobOptions;
  if (isPlainObject(defaults)) {
    const removingAll = REMOVING_JOB_OPTIONS.filter(
      (key) => defaults[key] === true,
    );
    if (removingAll.length)
      fail(
        TaskMessages.bullmqRemovingOptions(
          'queueOptions.defaultJobOptions',
          removingAll,
        ),
      );
  }
  const leaseMs = worker.lockDuration ?? DEFAULT_LEASE_MS;
  if (
    typeof leaseMs !== 'number' ||
    !Number.isInteger(leaseMs) ||
    leaseMs < MIN_LEASE_MS
  )
    fail(TaskMessages.badLockDuration(leaseMs, MIN_LEASE_MS));
  const stalledIntervalMs = worker.stalledInterval ?? leaseMs;
  if (
    typeof stalledIntervalMs !== 'number' ||
    !Number.isInteger(stalledIntervalMs) ||
    stalledIntervalMs < 1
  )
    fail(TaskMessages.badStalledInterval(stalledIntervalMs));
  return {
    connection: connection as BullMQConnection,
    prefix: prefix as string,
    queueOptions: queueOptions as Record<string, unknown>,
    workerOptions: worker,
    leaseMs: leaseMs as number,
    stalledIntervalMs: stalledIntervalMs as number,
  };
}
