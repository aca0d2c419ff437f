/**
 * What the transaction suites share. cls-transactional.e2e-spec.ts also
 * transpiles this file for cls-transactional.scenario.ts, which runs in a
 * plain Node process: import only lib/ and packages here.
 */
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Task } from '../../lib/index.js';

/** The PostgreSQL of the transaction suites: 127.0.0.1:5432, user postgres, database test. */
export const POSTGRES_CONNECTION = {
  type: 'postgres',
  host: '127.0.0.1',
  port: 5432,
  username: 'postgres',
  database: 'test',
} as const;

export async function backendPid(manager: EntityManager): Promise<number> {
  const rows: { pid: number }[] = await manager.query(
    'SELECT pg_backend_pid() AS pid',
  );
  return rows[0].pid;
}

/** Counts, as a manager sees them, the rows of `table` (`id`, `label`) with a label. */
export function labelCounter(
  table: string,
): (manager: EntityManager, label: string) => Promise<number> {
  return async (manager, label) => {
    const rows: { n: number }[] = await manager.query(
      `SELECT count(*)::int AS n FROM ${table} WHERE label = $1`,
      [label],
    );
    return rows[0].n;
  };
}

/** A task of the `default` backend (a DatabaseBackend) and one of the `held` backend. */
@Injectable()
export class ChainTasks {
  @Task()
  async outbox(n: number): Promise<number> {
    return n;
  }

  @Task({ backend: 'held' })
  async held(n: number): Promise<number> {
    return n;
  }
}
