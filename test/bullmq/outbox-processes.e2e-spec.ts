/**
 * The outbox across processes (test/src/outbox-app.module.ts): a process
 * commits a transaction with an enqueue for the BullMQBackend and is
 * SIGKILLed before it could relay it (its Redis accepts connections and
 * never answers); the committed outbox row is relayed by the sweep of a
 * `tasks:work` process, and the task runs exactly once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { runsKey, type RecordedRun } from '../src/redis-recorded-tasks.js';
import {
  availableDatabases,
  closeTestDataSource,
  openTestDataSource,
  uniqueTableName,
  type TestDatabase,
} from '../support/databases.js';
import {
  deleteRedisPrefix,
  describeWithRedis,
  TEST_REDIS,
  uniqueRedisPrefix,
} from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import {
  buildTestApp,
  killAll,
  OUTBOX_COMMITTER_ENTRY,
  OUTBOX_WORKER_ENTRY,
  startCli,
  workerEnv,
  type WorkerProcess,
} from '../support/worker-process.js';

/** A TCP server on loopback that accepts connections and never answers: a Redis that hangs. */
async function silentServer(): Promise<{
  port: number;
  close(): Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describeWithRedis('the outbox across processes', () => {
  let redis: Redis;

  beforeAll(async () => {
    redis = new Redis(TEST_REDIS);
    await buildTestApp();
  }, 120_000);

  afterAll(() => redis?.disconnect());

  describe.each(availableDatabases())('on $name', (db: TestDatabase) => {
    const table = uniqueTableName('t_outbox_proc');
    const prefix = uniqueRedisPrefix('outbox_proc');
    const processes: WorkerProcess[] = [];
    let ds: DataSource;
    let env: Record<string, string>;

    const outboxIds = async (): Promise<string[]> =>
      (
        (await ds.query(`SELECT id FROM ${table}_outbox`)) as { id: string }[]
      ).map((row) => String(row.id));
    const runsOf = async (id: string): Promise<number> =>
      (await redis.lrange(runsKey(prefix), 0, -1))
        .map((text) => JSON.parse(text) as RecordedRun)
        .filter((run) => run.id === id).length;
    const jobExists = async (id: string): Promise<boolean> =>
      (await redis.hexists(`${prefix}:default:${id}`, 'data')) === 1;

    beforeAll(async () => {
      ds = await openTestDataSource(db, table);
      env = workerEnv(db, ds, table, 30_000, {
        TASKS_TEST_REDIS_PREFIX: prefix,
      });
    });

    afterEach(() => killAll(processes));

    afterAll(async () => {
      await deleteRedisPrefix(prefix);
      await closeTestDataSource(db, ds, table);
    });

    it('relays, by a worker, the committed enqueue of a process killed before it relayed it; the task runs once', async () => {
      const hanging = await silentServer();
      let id: string;
      try {
        const committer = startCli(
          { ...env, TASKS_TEST_REDIS_PORT: String(hanging.port) },
          [],
          OUTBOX_COMMITTER_ENTRY,
        );
        processes.push(committer);
        await waitFor(
          'the committer to enqueue and commit',
          async () =>
            /"id"/.test(committer.output()) && (await outboxIds()).length > 0,
          30_000,
        );
        committer.child.kill('SIGKILL');
        expect(await committer.exited).toBe('SIGKILL');
        id = (
          JSON.parse(/\{"id".*\}/.exec(committer.output())![0]) as {
            id: string;
          }
        ).id;
      } finally {
        await hanging.close();
      }
      expect(await outboxIds()).toEqual([id]);
      expect(await jobExists(id)).toBe(false);

      const worker = startCli(
        { ...env, TASKS_TEST_REDIS_PORT: String(TEST_REDIS.port) },
        ['tasks:work', '--interval', '100'],
        OUTBOX_WORKER_ENTRY,
      );
      processes.push(worker);
      await waitFor(
        "the worker's sweep to relay the task, and the worker to run it",
        async () => (await runsOf(id)) > 0,
        40_000,
      );
      worker.child.kill('SIGTERM');
      const exit = await worker.exited;
      if (exit !== 0)
        throw new Error(`the worker exited with ${exit}:\n${worker.output()}`);
      expect(worker.output()).toContain('relayed 1 task(s) from its outbox');
      expect(await runsOf(id)).toBe(1);
      expect(await outboxIds()).toEqual([]);
      expect(await jobExists(id)).toBe(true);
    }, 90_000);
  });
});
