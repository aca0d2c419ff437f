import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Store } from '../systems/registry.js';
import {
  DEFAULT_MARIADB_URL,
  DEFAULT_POSTGRES_URL,
  DEFAULT_REDIS_URL,
  loopbackUrl,
} from '../urls.js';

/** The packages whose versions a result depends on. */
const PACKAGES = [
  'graphile-worker',
  'pg-boss',
  'bullmq',
  'ioredis',
  'typeorm',
  '@nestjs/core',
  'pg',
  'mysql2',
  'better-sqlite3',
];

/** What the results were measured on. */
export interface Environment {
  cpus: string;
  memory: string;
  os: string;
  node: string;
  /** nestjs-tasks' version and the commit of the working tree. */
  nestjsTasks: string;
  servers: Partial<Record<Store, string>>;
  packages: Record<string, string>;
}

function packageVersion(root: string, name: string): string {
  try {
    const file = join(root, 'node_modules', name, 'package.json');
    return JSON.parse(readFileSync(file, 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function revision(root: string): string {
  try {
    const run = (...args: string[]) =>
      execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    const dirty = run('status', '--porcelain', '--', 'lib').length > 0;
    return run('rev-parse', '--short', 'HEAD') + (dirty ? ' + changes' : '');
  } catch {
    return 'unknown commit';
  }
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({
    connectionString: loopbackUrl('BENCH_POSTGRES_URL', DEFAULT_POSTGRES_URL),
  });
  await client.connect();
  try {
    const { rows } = await client.query('SHOW server_version');
    return `PostgreSQL ${rows[0].server_version}`;
  } finally {
    await client.end();
  }
}

async function mariadbVersion(): Promise<string> {
  const connection = await mysql.createConnection(
    loopbackUrl('BENCH_MARIADB_URL', DEFAULT_MARIADB_URL),
  );
  try {
    const [rows] = await connection.query('SELECT VERSION() AS version');
    return `MariaDB ${(rows as { version: string }[])[0].version}`;
  } finally {
    await connection.end();
  }
}

async function redisVersion(): Promise<string> {
  const client = new Redis(loopbackUrl('BENCH_REDIS_URL', DEFAULT_REDIS_URL), {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  try {
    await client.connect();
    const info = await client.info('server');
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'}`;
  } finally {
    client.disconnect();
  }
}

/** The little of better-sqlite3 used here (it ships no type declarations). */
type SqliteDatabase = new (file: string) => {
  prepare(sql: string): { get(): unknown };
  close(): void;
};

async function sqliteVersion(): Promise<string> {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as SqliteDatabase;
  const db = new Database(':memory:');
  try {
    const row = db.prepare('SELECT sqlite_version() AS version').get() as {
      version: string;
    };
    return `SQLite ${row.version} (better-sqlite3)`;
  } finally {
    db.close();
  }
}

const SERVER_VERSIONS: Record<Store, () => Promise<string>> = {
  postgres: postgresVersion,
  mariadb: mariadbVersion,
  redis: redisVersion,
  sqlite: sqliteVersion,
};

/** The machine, Node, the servers of `stores` (asked for their versions) and the packages. */
export async function describeEnvironment(
  root: string,
  stores: ReadonlySet<Store>,
): Promise<Environment> {
  const servers: Partial<Record<Store, string>> = {};
  for (const store of stores) {
    servers[store] = await SERVER_VERSIONS[store]().catch(
      (error) => `${store}: version unknown (${(error as Error).message})`,
    );
  }
  const models = [...new Set(cpus().map((cpu) => cpu.model.trim()))];
  const rootPackage = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8'),
  );
  return {
    cpus: `${cpus().length} × ${models.join(', ')}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    os: `${type()} ${release()}`,
    node: process.version,
    nestjsTasks: `${rootPackage.version} (${revision(root)})`,
    servers,
    packages: Object.fromEntries(
      PACKAGES.map((name) => [name, packageVersion(root, name)]),
    ),
  };
}
