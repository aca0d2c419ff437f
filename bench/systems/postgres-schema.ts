import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_POSTGRES_URL, loopbackUrl } from '../urls.js';

/** A PostgreSQL schema of a peer's own, dropped with everything in it on close. */
export class PostgresSchema {
  readonly url = loopbackUrl('BENCH_POSTGRES_URL', DEFAULT_POSTGRES_URL);
  readonly name: string;
  readonly pool = new pg.Pool({ connectionString: this.url, max: 2 });

  constructor(prefix: string) {
    this.name = `bench_${prefix}_${randomBytes(4).toString('hex')}`;
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await this.pool.query(sql, params);
    return Number(rows[0].n);
  }

  /** Whether `select` finds no row: it stops at the first one. */
  async none(select: string, params: unknown[] = []): Promise<boolean> {
    const { rows } = await this.pool.query(
      `SELECT NOT EXISTS (${select}) AS none`,
      params,
    );
    return rows[0].none === true;
  }

  async drop(): Promise<void> {
    try {
      await this.pool.query(`DROP SCHEMA IF EXISTS ${this.name} CASCADE`);
    } finally {
      await this.pool.end();
    }
  }
}
