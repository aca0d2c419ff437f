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
