import type {
  Job,
  JobJson,
  Queue,
  QueueEvents,
  QueueEventsListener,
  Worker,
} from 'bullmq';
import { InvalidTaskBackendError } from '../../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../../tasks.messages.js';
import {
  isRedisInstance,
  type ResolvedBullMQOptions,
} from './bullmq-backend.options.js';
import { ATTEMPT_FIELD, readableJson } from './job-codec.js';
import {
  loadBullMQ,
  loadBullMQScript,
  type BullMQModule,
} from './bullmq-peer.js';
import { addCommands, addJob, type JobToAdd } from './job-adds.js';
import {
  ADD_SCRIPTS,
  MOVE_TO_ACTIVE_KEYS,
  MOVE_TO_FINISHED_KEYS,
  RedisScripts,
  type RedisClient,
} from './redis-scripts.js';

/**
 * A BullMQ queue name for the backend's own keys (workers, queue names,
 * cancel requests, periodic ticks); no task queue may take it.
 */
export const CONTROL_QUEUE = '~tasks';
/** The control queue's event that announces a task queue's first use; its field `queue` names it. */
const QUEUE_ADDED = 'tasks:queue-added';
interface ControlEvents extends QueueEventsListener {
  [QUEUE_ADDED]: (args: { queue?: string }) => void;
}
/** A stalled job is put back however often: the task's attempts decide when it fails. */
const UNLIMITED_STALLS = 1_000_000;

/** How many jobs one call of `addJobs` adds at most (Redis serves other clients between calls). */
const ADD_CHUNK = 250;

/** How long an operation waits for Redis to (re)connect before it fails. */
const CONNECT_WAIT_MS = 5000;
/** How long closing waits for a connection to end cleanly before it drops it. */
const CLOSE_WAIT_MS = 2000;

/** Something BullMQ opened on a Redis connection: a Queue, a Worker or QueueEvents. */
interface Connected {
  waitUntilReady(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: 'error', listener: (error: Error) => void): unknown;
  close(): Promise<void>;
  disconnect(): Promise<void>;
}

/**
 * The BullMQBackend's connections, opened lazily: a BullMQ `Queue` per task
 * queue (enqueue, read, cancel, administration), a BullMQ `Worker` per task
 * queue a worker of this process claims from (manual processing: no
 * processor, jobs taken with `getNextJob`; its blocking connection waits
 * for the queue's markers), the control queue's events where workers
 * listen (announcing task queues used for the first time), and the Redis
 * client of the control queue for the backend's own keys. All closed by
 * `close()`.
 */
/** A job read with its attempt mark (see `decodeJob`). */
export type MarkedJob = Job & { attemptMark: string | null };

/** How many times `findJobState` reads a job whose fields a move changed while its state was read. */
const READ_TRIES = 3;

/** Whether two reads of a job saw it at the same point of its life: no move, attempt or write between them. */
function sameMoment(a: MarkedJob, b: MarkedJob): boolean {
  return (
    JSON.stringify(a.data) === JSON.stringify(b.data) &&
    a.attemptMark === b.attemptMark &&
    a.attemptsMade === b.attemptsMade &&
    a.finishedOn === b.finishedOn &&
    a.processedOn === b.processedOn
  );
}

export class BullMQStore {
  /** Workers of this process to wake when a task is enqueued here. */
  readonly localWakers = new Set<() => void>();
  /** Workers of this process to tell at once of a cancel requested here. */
  readonly localCancelWatchers = new Set<(id: string) => void>();
  private module?: Promise<BullMQModule>;
  private readonly bullmqScripts = new Map<string, Promise<string | null>>();
  /** What `addJobs` needs once: BullMQ, its add scripts (null where it has them elsewhere), the control queue's event stream. */
  private adding?: Promise<{
    bullmq: BullMQModule;
    adds: string[] | null;
    eventsKey: string;
  }>;
  /** The BullMQ Queues opened (see `queue`), with their clients. */
  private readonly connectedQueues = new Map<
    string,
    { queue: Queue; client: RedisClient }
  >();
  private readonly queues = new Map<string, Promise<Queue>>();
  private readonly workers = new Map<string, Promise<Worker>>();
  private readonly events = new Map<string, Promise<QueueEvents>>();
  private closed = false;
  /** The last read of the queues list. */
  private listed?: { names: string[]; at: number };
  /** The task queues this process has added to the list of queues. */
  private readonly registered = new Set<string>();

  constructor(
    readonly alias: string,
    readonly settings: ResolvedBullMQOptions,
    /** The queues the backend accepts (empty: any). */
    private readonly configuredQueues: readonly string[],
  ) {}

  /** Where Redis is, for messages. */
  get where(): string {
    const { connection } = this.settings;
    const options = (
      isRedisInstance(connection)
        ? (connection as { options?: Record<string, unknown> }).options
        : connection
    ) as Record<string, unknown> | undefined;
    if (typeof options?.path === 'string') return options.path;
    return `${String(options?.host ?? '127.0.0.1')}:${String(options?.port ?? 6379)}`;
  }

  /** `<prefix>:~tasks:<name>`: a key of the backend's own. */
  key(name: string): string {
    return `${this.settings.prefix}:${CONTROL_QUEUE}:${name}`;
  }

  /** `<prefix>:<queue>:`: what BullMQ's keys of a queue start with. */
  queuePrefix(queueName: string): string {
    return `${this.settings.prefix}:${queueName}:`;
  }

  /** The BullMQ Queue of a task queue, connected. */
  async queue(name: string): Promise<Queue> {
    const queue = await this.opened(
      this.queues,
      name,
      (bullmq) =>
        new bullmq.Queue(name, {
          ...this.settings.queueOptions,
          connection: this.connectionOptions(),
          prefix: this.settings.prefix,
        }),
    );
    const client = (await queue.backend.client) as RedisClient;
    await this.online(client);
    if (!this.closed) this.connectedQueues.set(name, { queue, client });
    return queue;
  }

  /** The BullMQ Queue of a task queue or of the control queue, and its client: at once while that client is connected. */
  private async connectedQueue(
    name: string,
  ): Promise<{ queue: Queue; client: RedisClient }> {
    const connected = this.connectedQueues.get(name);
    if (connected?.client.status === 'ready') return connected;
    const queue = await this.queue(name);
    return { queue, client: (await queue.backend.client) as RedisClient };
  }

  /** The BullMQ Worker this process claims jobs of a task queue through, connected. */
  async worker(name: string): Promise<Worker> {
    const worker = await this.opened(this.workers, name, (bullmq) => {
      const worker = new bullmq.Worker(name, null, {
        maxStalledCount: UNLIMITED_STALLS,
        ...this.settings.workerOptions,
        lockDuration: this.settings.leaseMs,
        stalledInterval: this.settings.stalledIntervalMs,
        connection: this.connectionOptions(),
        prefix: this.settings.prefix,
        autorun: false,
      });
      return worker;
    });
    await this.online((await worker.backend.client) as RedisClient);
    return worker;
  }

  /** BullMQ's move to active, which claims run for many jobs in one call; null where this BullMQ has it elsewhere. */
  moveToActiveScript(): Promise<string | null> {
    return this.bullmqScript('moveToActive', MOVE_TO_ACTIVE_KEYS.length);
  }

  /** BullMQ's move to finished, which outcomes run for many jobs in one call; null where this BullMQ has it elsewhere. */
  moveToFinishedScript(): Promise<string | null> {
    return this.bullmqScript('moveToFinished', MOVE_TO_FINISHED_KEYS);
  }

  private bullmqScript(name: string, keys: number): Promise<string | null> {
    let script = this.bullmqScripts.get(name);
    if (!script)
      this.bullmqScripts.set(name, (script = loadBullMQScript(name, keys)));
    return script;
  }

  /** The `bullmq` package. */
  bullmq(): Promise<BullMQModule> {
    return this.loadModule();
  }

  /** The Redis client of the control queue, for the backend's own keys and scripts. */
  async client(): Promise<RedisClient> {
    return (await this.connectedQueue(CONTROL_QUEUE)).client;
  }

  /**
   * Fails with a message naming Redis when `client` lost its connection and
   * does not get it back soon (BullMQ would wait for it forever).
   */
  async online(client: RedisClient): Promise<void> {
    if (client.status === 'ready') return;
    let onReady: (() => void) | undefined;
    try {
      await this.reachable({
        waitUntilReady: () =>
          new Promise<void>((resolve) => {
            onReady = () => resolve();
            client.once('ready', onReady);
          }),
        on: (event, listener) => client.on(event, listener),
        off: (event, listener) => client.off(event, listener),
        close: async () => undefined,
        disconnect: async () => undefined,
      });
    } finally {
      // Not left behind when the wait gave up: one per failed call would pile up during an outage.
      if (onReady) client.off('ready', onReady);
    }
  }

  /**
   * `work`, unless `client` loses its connection and does not get it back
   * within CONNECT_WAIT_MS meanwhile: then a rejection naming Redis (BullMQ
   * keeps the commands to send them once it reconnects, however long that
   * takes; `work` may still take effect then).
   */
  async guard<T>(client: RedisClient, work: Promise<T>): Promise<T> {
    work.catch(() => undefined);
    let stopWatching = () => {};
    const lost = new Promise<never>((_, reject) => {
      let timer: NodeJS.Timeout | undefined;
      // Made only when needed: an Error's stack costs more than the rest of a guarded call.
      let cause: unknown;
      const waiter: ConnectionWaiter = {
        onError: (error) => (cause = error),
        onClose: () => {
          timer ??= setTimeout(() => {
            cause ??= new Error('the connection was lost');
            reject(
              new InvalidTaskBackendError(
                TaskMessages.redisUnreachable(this.alias, this.where, cause),
                { cause },
              ),
            );
          }, CONNECT_WAIT_MS);
        },
        onReady: () => {
          clearTimeout(timer);
          timer = undefined;
        },
      };
      const unwatch = watchConnection(client, waiter);
      if (client.status !== 'ready') waiter.onClose();
      stopWatching = () => {
        clearTimeout(timer);
        unwatch();
      };
    });
    try {
      return await Promise.race([work, lost]);
    } finally {
      stopWatching();
    }
  }

  /** `guard` on the control queue's client; `work` is observed even when that client cannot be had. */
  async guarded<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined);
    return this.guard(await this.client(), work);
  }

  /** Fails with a message naming Redis when `connected` is not connected and does not connect soon. */
  private async reachable(connected: Connected): Promise<void> {
    await waitReady(connected).catch((error: unknown) => {
      throw new InvalidTaskBackendError(
        TaskMessages.redisUnreachable(this.alias, this.where, error),
        { cause: error },
      );
    });
  }

  /**
   * The task queues to look in: those the backend accepts or, where it
   * accepts any, every queue a task was ever enqueued in (the list kept
   * under `<prefix>:~tasks:queues`), read again when the last read is
   * older than `maxAgeMs` (a worker's claims read it at most once a
   * second; everything else at each call).
   */
  async knownQueues(maxAgeMs = 0): Promise<string[]> {
    if (this.configuredQueues.length) return [...this.configuredQueues];
    const now = performance.now();
    if (!this.listed || now - this.listed.at >= maxAgeMs) {
      const client = await this.client();
      const queues = await this.guard(
        client,
        client.hgetall(this.key('queues')),
      );
      this.listed = { names: Object.keys(queues).sort(), at: now };
    }
    return [...this.listed.names];
  }

  /**
   * Adds jobs to a task queue; answers, for each, its id, or the id of the
   * job that holds its deduplication id. Where the backend accepts any
   * queue, the queue is listed (see `knownQueues`) before its jobs are
   * added, and listed again with each later add (a flushed Redis loses
   * the list). One job goes as BullMQ adds it (see `addOne`); many go
   * in one call per ADD_CHUNK, listing included, through BullMQ's own add
   * scripts where the installed BullMQ allows (see `addCommands`), else
   * through `Queue.addBulk` after the listing.
   */
  async addJobs(
    queueName: string,
    jobs: readonly JobToAdd[],
  ): Promise<string[]> {
    const { queue, client } = await this.connectedQueue(queueName);
    const { bullmq, adds, eventsKey } = await this.addingSetup();
    if (jobs.length === 1)
      return [await this.addOne(bullmq, queue, client, jobs[0])];
    const commands = adds && (await addCommands(bullmq, queue, jobs));
    if (!commands) {
      // As `addOne`: listed first where this process has not listed it yet.
      const listed = this.hasRegistered(queueName);
      const registering = this.registerQueue(queueName);
      if (listed) registering.catch(() => undefined);
      else await registering;
      return (await this.guard(client, queue.addBulk([...jobs]))).map((job) =>
        String(job.id),
      );
    }
    const listing = this.configuredQueues.length
      ? null
      : {
          queuesKey: this.key('queues'),
          eventsKey,
          name: queueName,
          event: QUEUE_ADDED,
        };
    if (listing) this.noteQueue(queueName);
    const calls: Promise<(string | Error)[]>[] = [];
    for (let from = 0; from < commands.length; from += ADD_CHUNK)
      calls.push(
        RedisScripts.addJobs(
          client,
          adds,
          listing,
          commands.slice(from, from + ADD_CHUNK),
        ),
      );
    const answers = (await this.guard(client, Promise.all(calls))).flat();
    if (listing) this.registered.add(queueName);
    const failed = answers.findIndex((answer) => answer instanceof Error);
    if (failed >= 0) {
      const added = answers.filter((answer) => !(answer instanceof Error));
      throw new Error(
        `job ${jobs[failed].opts.jobId}: ${(answers[failed] as Error).message} ` +
          `(${added.length} of the ${jobs.length} jobs were added)`,
        { cause: answers[failed] },
      );
    }
    return answers as string[];
  }

  /**
   * `addJobs` of one job, as BullMQ adds it. A queue this process has not
   * listed yet is listed first; one it listed is listed again once the
   * job's add is on its way: Redis adds while this lists, and a failure of
   * that listing is not the add's, the list had the queue.
   */
  private async addOne(
    bullmq: BullMQModule,
    queue: Queue,
    client: RedisClient,
    job: JobToAdd,
  ): Promise<string> {
    const listed = this.hasRegistered(queue.name);
    if (!listed) await this.registerQueue(queue.name);
    const adding =
      addJob(bullmq, queue, client, job) ??
      queue.add(job.name, job.data, job.opts).then((added) => String(added.id));
    if (listed) this.registerQueue(queue.name).catch(() => undefined);
    return this.guard(client, adding);
  }

  /** See `adding`; read again after a failure. */
  private addingSetup(): Promise<{
    bullmq: BullMQModule;
    adds: string[] | null;
    eventsKey: string;
  }> {
    if (!this.adding) {
      const adding = Promise.all([
        this.bullmq(),
        Promise.all(
          ADD_SCRIPTS.map(({ name, keys }) => this.bullmqScript(name, keys)),
        ),
        this.queue(CONTROL_QUEUE),
      ]).then(([bullmq, sources, control]) => ({
        bullmq,
        adds: sources.every((source) => source !== null)
          ? (sources as string[])
          : null,
        eventsKey: control.keys.events,
      }));
      adding.catch(() => {
        if (this.adding === adding) this.adding = undefined;
      });
      this.adding = adding;
    }
    return this.adding;
  }

  /**
   * Adds a task queue to the list `knownQueues()` reads, where the backend
   * accepts any; the first time, announces it to the workers of every
   * process (see `onNewQueues`).
   */
  private async registerQueue(name: string): Promise<void> {
    if (this.configuredQueues.length) return;
    this.noteQueue(name);
    const control = await this.connectedQueue(CONTROL_QUEUE);
    await this.guard(
      control.client,
      RedisScripts.registerQueue(
        control.client,
        this.key('queues'),
        control.queue.keys.events,
        name,
        QUEUE_ADDED,
      ),
    );
    this.registered.add(name);
  }

  /** Whether this process has added `name` to the list of queues (see `registerQueue`). */
  private hasRegistered(name: string): boolean {
    return this.configuredQueues.length > 0 || this.registered.has(name);
  }

  /**
   * Calls `onQueue` with each task queue used for the first time from now
   * on, in any process, where the backend accepts any queue; returns how to
   * stop. Queues used before are in `knownQueues()`, read after this
   * resolves.
   */
  async onNewQueues(onQueue: (name: string) => void): Promise<() => void> {
    if (this.configuredQueues.length) return () => undefined;
    const events = await this.controlEvents();
    const listener: ControlEvents[typeof QUEUE_ADDED] = ({ queue }) => {
      if (!queue) return;
      this.noteQueue(queue);
      onQueue(queue);
    };
    events.on<ControlEvents>(QUEUE_ADDED, listener);
    return () => {
      events.off<ControlEvents>(QUEUE_ADDED, listener);
    };
  }

  /** The control queue's events, read from the last one there when first opened. */
  private async controlEvents(): Promise<QueueEvents> {
    const opening = this.events.get(CONTROL_QUEUE);
    if (opening) return opening;
    const client = await this.client();
    const eventsKey = (await this.queue(CONTROL_QUEUE)).keys.events;
    const lastEventId = await this.guard(
      client,
      RedisScripts.lastEntryId(client, eventsKey),
    );
    return this.opened(
      this.events,
      CONTROL_QUEUE,
      (bullmq) =>
        new bullmq.QueueEvents(CONTROL_QUEUE, {
          connection: this.connectionOptions(),
          prefix: this.settings.prefix,
          lastEventId,
        }),
    );
  }

  /** This process's workers see `name` at their next claim, however recent their list. */
  private noteQueue(name: string): void {
    if (this.listed && !this.listed.names.includes(name))
      this.listed.names = [...this.listed.names, name].sort();
  }

  /** The ids of `rows` whose job exists (in the row's queue). */
  async existingJobs(
    rows: readonly { id: string; queueName: string }[],
  ): Promise<Set<string>> {
    const client = await this.client();
    const exists = await this.guard(
      client,
      Promise.all(
        rows.map((row) =>
          client.hexists(this.queuePrefix(row.queueName) + row.id, 'data'),
        ),
      ),
    );
    return new Set(rows.filter((_, i) => exists[i] === 1).map((row) => row.id));
  }

  /**
   * The job of a result id (in whichever task queue holds it), or null; a
   * job whose data is not JSON is read as a damaged one (see
   * `readableJson`), where BullMQ's `getJob` would throw; with its attempt
   * mark, which BullMQ does not read, and its count of ended attempts.
   */
  async findJob(id: string): Promise<MarkedJob | null> {
    const queues = await Promise.all(
      (await this.knownQueues()).map((name) => this.queue(name)),
    );
    const client = await this.client();
    const found = await Promise.all(
      queues.map((queue) => client.hgetall(queue.toKey(id))),
    );
    const at = found.findIndex((fields) => fields.data !== undefined);
    if (at < 0) return null;
    const { Job } = await this.bullmq();
    const fields = found[at];
    const job = Job.fromJSON(
      queues[at],
      { ...fields, data: readableJson(fields.data) } as unknown as JobJson,
      id,
    );
    return Object.assign(job, {
      attemptMark: fields[ATTEMPT_FIELD] ?? null,
      attemptsMade: Number(fields.atm ?? 0),
    });
  }

  /**
   * The job of a result id and its BullMQ state, read so that they agree:
   * its fields are read before and after its state, again while a move
   * changed them in between (at most READ_TRIES times); null when unknown.
   */
  async findJobState(
    id: string,
  ): Promise<{ job: MarkedJob; state: string } | null> {
    const client = await this.client();
    let job = await this.guard(client, this.findJob(id));
    for (let tries = 1; job; tries++) {
      const state = await this.guard(client, job.getState());
      if (state === 'unknown') return null;
      const after = await this.guard(client, this.findJob(id));
      if (!after) return null;
      if (tries >= READ_TRIES || sameMoment(job, after))
        return { job: after, state };
      job = after;
    }
    return null;
  }

  wakeLocalWorkers(): void {
    for (const onWake of this.localWakers) onWake();
  }

  cancelLocally(id: string): void {
    for (const onCancel of this.localCancelWatchers) onCancel(id);
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.workers.values()];
    const all = [...this.events.values(), ...workers, ...this.queues.values()];
    this.events.clear();
    this.workers.clear();
    this.queues.clear();
    this.connectedQueues.clear();
    await Promise.all(
      workers.map((opening) =>
        opening.then(
          (worker) => this.endWaitForMarkers(worker),
          () => undefined,
        ),
      ),
    );
    await Promise.all(
      all.map((opening) =>
        opening.then(
          (connected) => closeConnection(connected, this.ownConnection),
          () => undefined,
        ),
      ),
    );
  }

  /**
   * Ends a worker's wait for its queue's markers at once: its blocking
   * connection (BullMQ's own, a copy even of the application's ioredis
   * instance) is dropped, where closing would wait for the wait to time
   * out. Nothing else is sent on that connection.
   */
  private async endWaitForMarkers(worker: Worker): Promise<void> {
    (await worker.backend.blockingClient)?.disconnect();
  }

  /** Whether the backend made its connections (from options), as opposed to using the application's ioredis instance. */
  private get ownConnection(): boolean {
    return !isRedisInstance(this.settings.connection);
  }

  private connectionOptions(): Record<string, unknown> {
    const { connection } = this.settings;
    return isRedisInstance(connection) ? connection : { ...connection };
  }

  private loadModule(): Promise<BullMQModule> {
    this.module ??= loadBullMQ(this.alias);
    this.module.catch(() => (this.module = undefined));
    return this.module;
  }

  /**
   * The connected object of `name` in `cache`, created on first use; one
   * that could not connect is closed and forgotten, so that the next call
   * tries again.
   */
  private opened<T extends Connected>(
    cache: Map<string, Promise<T>>,
    name: string,
    create: (bullmq: BullMQModule) => T,
  ): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new InvalidTaskBackendError(TaskMessages.bullmqClosed(this.alias)),
      );
    let opening = cache.get(name);
    if (!opening) {
      opening = this.loadModule().then(async (bullmq) => {
        const connected = create(bullmq);
        // Connection errors are reported where an operation fails; BullMQ retries meanwhile.
        connected.on('error', () => undefined);
        try {
          await this.reachable(connected);
        } catch (error) {
          await closeConnection(connected, this.ownConnection);
          throw error;
        }
        return connected;
      });
      cache.set(name, opening);
      opening.catch(() => {
        if (cache.get(name) === opening) cache.delete(name);
      });
    }
    return opening;
  }
}

/**
 * Closes `connected` cleanly or, when that does not end within
 * CLOSE_WAIT_MS (a connection that is reconnecting may never), drops its
 * connection: only where it is the backend's own, never the application's
 * ioredis instance.
 */
async function closeConnection(
  connected: Connected,
  ownConnection: boolean,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    connected.close().then(
      () => true,
      () => true,
    ),
    new Promise<boolean>(
      (resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS)),
    ),
  ]);
  clearTimeout(timer);
  if (!closed && ownConnection)
    await connected.disconnect().catch(() => undefined);
}

/** Resolves once `connected` is ready; rejects on its first connection error, or after CONNECT_WAIT_MS. */
function waitReady(connected: Connected): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`no connection after ${CONNECT_WAIT_MS} ms`)),
      CONNECT_WAIT_MS,
    );
    const onError = (error: Error) => finish(error);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      connected.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    connected.on('error', onError);
    connected.waitUntilReady().then(
      () => finish(),
      (error: Error) => finish(error),
    );
  });
}

/** What a guarded operation hears of its client's connection. */
interface ConnectionWaiter {
  onError(error: unknown): void;
  onClose(): void;
  onReady(): void;
}

/** The guarded operations waiting on each client: one set of listeners per client, however many wait at once. */
const connectionWaiters = new WeakMap<RedisClient, Set<ConnectionWaiter>>();

/** Tells `waiter` of `client`'s connection events until the returned function is called. */
function watchConnection(
  client: RedisClient,
  waiter: ConnectionWaiter,
): () => void {
  let waiters = connectionWaiters.get(client);
  if (!waiters) {
    const all = (waiters = new Set());
    connectionWaiters.set(client, all);
    client.on('error', (error: unknown) => {
      for (const each of [...all]) each.onError(error);
    });
    client.on('close', () => {
      for (const each of [...all]) each.onClose();
    });
    client.on('ready', () => {
      for (const each of [...all]) each.onReady();
    });
  }
  waiters.add(waiter);
  return () => waiters.delete(waiter);
}
