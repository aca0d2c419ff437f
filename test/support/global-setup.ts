/**
 * Jest global setup: probes the servers the DatabaseBackend and BullMQBackend
 * suites need and records which answered in environment variables that
 * `availableDatabases()` (test/support/databases.ts) and `redisAvailable()`
 * (test/support/redis.ts) read.
 *
 * Self-contained on purpose: Jest loads global setup outside its module
 * mapper, so this file may import packages but not other test files. The
 * connection settings mirror TEST_DATABASES in databases.ts and TEST_REDIS in
 * redis.ts.
 */
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';

/** The part of `pg` used here (the package ships no type declarations). */
interface PgClient {
  connect(): Promise<void>;
  query(text: string): Promise<unknown>;
  end(): Promise<void>;
}
type PgModule = { Client: new (config: Record<string, unknown>) => PgClient };

const PROBE_TIMEOUT_MS = 3000;

interface Server {
  name: string;
  envVar: string;
  where: string;
  suites: string;
  startHint: string;
  probe(): Promise<void>;
}

const SERVERS: Server[] = [
  {
    name: 'PostgreSQL',
    envVar: 'NESTJS_TASKS_TEST_POSTGRES',
    where: '127.0.0.1:5432 (user postgres, database test)',
    suites: 'DatabaseBackend conformance on postgres',
    startHint:
      'docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust -e POSTGRES_DB=test postgres:16',
    async probe() {
      const pg = ((await import('pg' as string)) as { default: PgModule })
        .default;
      const client = new pg.Client({
        host: '127.0.0.1',
        port: 5432,
        user: 'postgres',
        database: 'test',
        connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  },
  {
    name: 'MariaDB',
    envVar: 'NESTJS_TASKS_TEST_MARIADB',
    where: '127.0.0.1:3306 (user root, empty password, database test)',
    suites: 'DatabaseBackend conformance on mariadb',
    startHint:
      'docker run -d -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 -e MARIADB_DATABASE=test mariadb:11',
    async probe() {
      const connection = await mysql.createConnection({
        host: '127.0.0.1',
        port: 3306,
        user: 'root',
        password: '',
        database: 'test',
        connectTimeout: PROBE_TIMEOUT_MS,
      });
      try {
        await connection.query('SELECT 1');
      } finally {
        await connection.end().catch(() => undefined);
      }
    },
  },
  {
    name: 'Redis',
    envVar: 'NESTJS_TASKS_TEST_REDIS',
    where: '127.0.0.1:6379',
    suites: 'BullMQBackend suites (test/bullmq/)',
    startHint: 'docker run -d -p 6379:6379 redis:7',
    async probe() {
      const client = new Redis({
        host: '127.0.0.1',
        port: 6379,
        connectTimeout: PROBE_TIMEOUT_MS,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        lazyConnect: true,
      });
      client.on('error', () => undefined);
      try {
        await client.connect();
        await client.ping();
      } finally {
        client.disconnect();
      }
    },
  },
];

async function isUp(server: Server): Promise<string | null> {
  try {
    await server.probe();
    return null;
  } catch (error) {
    return (error as Error)?.message || String(error);
  }
}

export default async function globalSetup(): Promise<void> {
  const missing: { server: Server; reason: string }[] = [];
  for (const server of SERVERS) {
    const reason = await isUp(server);
    process.env[server.envVar] = reason === null ? '1' : '0';
    if (reason !== null) missing.push({ server, reason });
  }
  if (missing.length === 0) return;

  const details = missing.map(
    ({ server, reason }) =>
      `  - ${server.name} at ${server.where}: ${reason}\n` +
      `      needed by: ${server.suites}\n` +
      `      start it: ${server.startHint}`,
  );
  if (process.env.CI === 'true') {
    throw new Error(
      `Servers required under CI are not reachable:\n${details.join('\n')}`,
    );
  }
  const bar = '!'.repeat(78);
  console.warn(
    [
      '',
      bar,
      '!!! WARNING: SERVERS NOT REACHABLE, THEIR TEST SUITES ARE SKIPPED',
      bar,
      ...details,
      '',
      '  These suites run on CI (CI=true), where a missing server fails the build.',
      '  Start the servers above and rerun to test every database locally.',
      bar,
      '',
    ].join('\n'),
  );
}
