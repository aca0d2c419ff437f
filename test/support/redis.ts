import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** Set by the global setup to '1' when Redis answered, '0' when not. */
export const REDIS_ENV = 'NESTJS_TASKS_TEST_REDIS';

/** The Redis of the BullMQBackend suites (mirrored in global-setup.ts). */
export const TEST_REDIS = { host: '127.0.0.1', port: 6379 };

/**
 * `describe`, or `describe.skip` when the global setup found Redis down
 * (it then printed a loud notice; under CI=true it failed the run instead).
 * Without the global setup Redis is assumed, so its absence fails loudly.
 */
export const describeWithRedis: jest.Describe =
  process.env[REDIS_ENV] === '0' ? describe.skip : describe;

/** A fresh key prefix: unique per suite, so suites never share jobs. */
export function uniqueRedisPrefix(name: string): string {
  return `t_${name}_${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix`. */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const client = new Redis({ ...TEST_REDIS, lazyConnect: true });
  try {
    await client.connect();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(
        cursor,
        'MATCH',
        `${prefix}:*`,
        'COUNT',
        1000,
      );
      if (keys.length) await client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** Whether `redis-server` can be run here (for suites that start one of their own). */
export const redisServerInstalled =
  spawnSync('redis-server', ['--version']).status === 0 ||
  process.env.CI === 'true';

/** A `redis-server` of a test's own, in memory only. */
export interface RedisServer {
  /** Kills it and waits until it is gone. */
  stop(): Promise<void>;
}

/** Starts `redis-server` on `port` of 127.0.0.1 and waits until it answers. */
export async function startRedisServer(port: number): Promise<RedisServer> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) =>
    child.on('exit', () => resolve()),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null)
      child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      probe.disconnect();
    }
  }
  return { stop };
}
