import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type LoggerService } from '@nestjs/common';
import type { TestingModule } from '@nestjs/testing';
import type { DataSource, QueryRunner } from 'typeorm';
import { MysqlDialect } from '../../lib/backends/database/dialects/mysql.dialect.js';
import { PostgresDialect } from '../../lib/backends/database/dialects/postgres.dialect.js';
import { SqliteDialect } from '../../lib/backends/database/dialects/sqlite.dialect.js';
import { INSERT_COLUMNS } from '../../lib/backends/database/task-columns.js';
import { TaskBackends } from '../../lib/dispatch/task-backends.js';
import {
  OnTaskEvent,
  Task,
  TaskContext,
  TaskQueue,
  type TaskResult,
} from '../../lib/index.js';
import type { TaskWorker, WorkerExit } from '../../lib/worker/task-worker.js';
import type { WorkerRequest } from '../../lib/worker/worker-factory.service.js';
import { Gate } from '../fixtures/conformance.fixtures.js';
import type { TestDatabase, TestDatabaseName } from './databases.js';
import { batchWorker, bootTasksApp } from './tasks-app.js';

/**
 * The database's clock in epoch milliseconds, as SQL: leases are measured
 * by it, so a suite checks "the lease ran out" by it too.
 */
export function clockMsSql(db: TestDatabaseName): string {
  return DIALECTS[db].clockMs;
}

const DIALECTS = {
  postgres: new PostgresDialect(),
  mariadb: new MysqlDialect(),
  sqlite: new SqliteDialect(),
};

/** Runs SQL written with `:1`, `:2`… placeholders, spelled for this database. */
export function sqlOn(
  db: TestDatabaseName,
  run: (text: string, params: unknown[]) => Promise<any>,
): (text: string, params?: unknown[]) => Promise<any> {
  return (text, params = []) =>
    run(
      text.replace(/:(\d+)/g, (_, n: string) =>
        db === 'postgres' ? `$${n}` : '?',
      ),
      params,
    );
}

/**
 * Inserts a copy of the row `id` of `table` with some columns replaced by
 * SQL literals (a corrupt row, as a hand, a bad migration or another
 * program could write it); returns the copy's id. `sql` is `sqlOn`'s.
 */
export async function copyRow(
  sql: (text: string, params?: unknown[]) => Promise<any>,
  table: string,
  id: string,
  overrides: Record<string, string>,
): Promise<string> {
  const newId = randomUUID();
  const values: Record<string, string> = { id: `'${newId}'`, ...overrides };
  const columns = INSERT_COLUMNS.map(({ name }) => name);
  await sql(
    `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${columns
      .map((name) => values[name] ?? name)
      .join(', ')} FROM ${table} WHERE id = :1`,
    [id],
  );
  return newId;
}

/** SQL counting RUNNING rows of `table` whose lease has run out by the database's clock. */
export function expiredLeasesSql(db: TestDatabaseName, table: string): string {
  return `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'RUNNING' AND lease_expires_at < ${clockMsSql(db)}`;
}

/** How many rows of `table` are RUNNING. */
export async function countRunning(
  ds: DataSource,
  table: string,
): Promise<number> {
  const [row] = await ds.query(
    `SELECT COUNT(*) AS n FROM ${table} WHERE status = 'RUNNING'`,
  );
  return Number(row.n);
}

/** A lock on a whole table, held by a connection of its own until `release()`. */
export interface TableLock {
  /** Queries on the locking connection (the only one that may use the table meanwhile). */
  query(text: string, params?: unknown[]): Promise<any[]>;
  /** How long the lock has been held, in ms. */
  heldMs(): number;
  release(): Promise<void>;
}

/**
 * Takes a lock that stops every other connection from writing `table`
 * (PostgreSQL and MariaDB: from reading it too): PostgreSQL `LOCK TABLE …
 * IN ACCESS EXCLUSIVE MODE` in a transaction, MariaDB `LOCK TABLES … WRITE`,
 * SQLite `BEGIN EXCLUSIVE` (the whole file). `lockDs` must be a DataSource
 * of its own: its connection is held until `release()`.
 */
export async function lockTable(
  db: TestDatabase,
  lockDs: DataSource,
  table: string,
): Promise<TableLock> {
  const runner: QueryRunner = lockDs.createQueryRunner();
  await runner.connect();
  const [take, free] =
    db.name === 'postgres'
      ? [['BEGIN', `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`], ['COMMIT']]
      : db.name === 'mariadb'
        ? [[`LOCK TABLES ${table} WRITE`], ['UNLOCK TABLES']]
        : [['BEGIN EXCLUSIVE'], ['COMMIT']];
  for (const statement of take) await runner.query(statement);
  const since = Date.now();
  let released = false;
  return {
    query: (text, params) => runner.query(text, params),
    heldMs: () => Date.now() - since,
    release: async () => {
      if (released) return;
      released = true;
      try {
        for (const statement of free) await runner.query(statement);
      } finally {
        await runner.release();
      }
    },
  };
}

/**
 * How many of these workers hold their session lock, by the names the
 * dialects give them (PostgreSQL advisory lock, MariaDB GET_LOCK); null on
 * SQLite, which has none. Zero means the database sees them all as gone.
 */
export async function heldSessionLocks(
  db: TestDatabaseName,
  ds: DataSource,
  table: string,
  workerIds: readonly string[],
): Promise<number | null> {
  if (db === 'sqlite') return null;
  let held = 0;
  for (const id of workerIds) {
    const [row] =
      db === 'postgres'
        ? await ds.query(
            `SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 ` +
              `AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) ` +
              `AND classid = hashtext($1)::oid AND objid = hashtext($2)::oid`,
            [table, id],
          )
        : await ds.query(
            `SELECT IF(IS_USED_LOCK(CONCAT('nestjs-tasks:', MD5(CONCAT(DATABASE(), ':', ?, ':', ?)))) IS NULL, 0, 1) AS n`,
            [table, id],
          );
    held += Number(row.n);
  }
  return held;
}

/** In-process workers of a suite, all stopped by `abortAll()` whatever happened. */
export class Workers {
  private readonly started: {
    worker: TaskWorker;
    exit: Promise<WorkerExit>;
  }[] = [];

  /** Starts a (by default non-batch) worker of the app. */
  start(
    moduleRef: TestingModule,
    request: WorkerRequest,
  ): { worker: TaskWorker; exit: Promise<WorkerExit> } {
    const worker = batchWorker(moduleRef, { batch: false, ...request });
    const entry = { worker, exit: worker.run() };
    // Failures are seen by whoever awaits `exit`; this only keeps them from going unhandled.
    entry.exit.catch(() => undefined);
    this.started.push(entry);
    return entry;
  }

  /** Stops every worker gracefully; resolves with how each run ended. */
  async stopAll(): Promise<WorkerExit[]> {
    for (const { worker } of this.started) worker.stop();
    return Promise.all(this.started.map(({ exit }) => exit));
  }

  /** Aborts every worker still running and forgets them all: for afterEach. */
  async abortAll(): Promise<void> {
    const started = this.started.splice(0);
    for (const { worker } of started) worker.abort();
    await Promise.allSettled(started.map(({ exit }) => exit));
  }
}

/** One rescue pass of a worker: when it ran and how many tasks it took over. */
export interface RescueCall {
  rescuer: string;
  startedAt: number;
  endedAt: number | null;
  /** Rows it rescued; null while running or when it failed. */
  rescued: number | null;
}

/**
 * Records the rescue passes of the workers of the app's default backend
 * (they share its worker queue), so that a suite can show a rescue really
 * ran while the leases were out, and took nothing.
 */
export function watchRescues(moduleRef: TestingModule): {
  calls: RescueCall[];
  restore(): void;
} {
  const queue = moduleRef.get(TaskBackends).get('default').workerQueue() as {
    rescueExpired(rescuerId: string): Promise<number>;
  } | null;
  if (!queue) throw new Error('the default backend has no worker queue');
  const original = queue.rescueExpired;
  const calls: RescueCall[] = [];
  queue.rescueExpired = async function (rescuerId: string) {
    const call: RescueCall = {
      rescuer: rescuerId,
      startedAt: Date.now(),
      endedAt: null,
      rescued: null,
    };
    calls.push(call);
    try {
      call.rescued = await original.call(this, rescuerId);
      return call.rescued;
    } finally {
      call.endedAt = Date.now();
    }
  };
  return {
    calls,
    restore: () => {
      queue.rescueExpired = original;
    },
  };
}

/** Tasks of the fault suites: count their executions per result and notice aborts. */
@Injectable()
export class FaultTasks {
  /** Executions per result id. */
  readonly executions = new Map<string, number>();
  /** Result ids whose attempt saw its signal aborted. */
  readonly aborted: string[] = [];
  readonly gate = new Gate();

  /** Executions so far, over every result. */
  get total(): number {
    return [...this.executions.values()].reduce((sum, n) => sum + n, 0);
  }

  private begin(ctx: TaskContext): void {
    const id = ctx.taskResult.id;
    this.executions.set(id, (this.executions.get(id) ?? 0) + 1);
  }

  /** Rejects when the attempt's signal aborts (the worker lost the task or stops). */
  private until(ctx: TaskContext, done: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.aborted.push(ctx.taskResult.id);
        reject(ctx.signal.reason);
      };
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      done.then(() => {
        ctx.signal.removeEventListener('abort', onAbort);
        resolve();
      }, reject);
    });
  }

  /** Waits for the gate to open. */
  @Task({ takesContext: true })
  async gated(ctx: TaskContext, label: string): Promise<string> {
    this.begin(ctx);
    await this.until(ctx, this.gate.opened);
    return label;
  }

  /** Sleeps `ms`. */
  @Task({ takesContext: true })
  async sleep(ctx: TaskContext, ms: number): Promise<number> {
    this.begin(ctx);
    await this.until(
      ctx,
      new Promise<void>((resolve) => setTimeout(resolve, ms)),
    );
    return ms;
  }

  @Task({ takesContext: true })
  async add(ctx: TaskContext, a: number, b: number): Promise<number> {
    this.begin(ctx);
    return a + b;
  }
}

/** Counts `finished` events per result id. */
@Injectable()
export class FinishedEvents {
  readonly counts = new Map<string, number>();

  @OnTaskEvent('finished')
  onFinished({ result }: { result: TaskResult<unknown> }): void {
    this.counts.set(result.id, (this.counts.get(result.id) ?? 0) + 1);
  }
}

/** What the library logged, captured instead of printed. */
export class CapturedLogs implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];

  private add(level: string, message: unknown): void {
    this.lines.push({ level, message: String(message) });
  }

  log(message: unknown): void {
    this.add('log', message);
  }
  warn(message: unknown): void {
    this.add('warn', message);
  }
  error(message: unknown): void {
    this.add('error', message);
  }
  debug(message: unknown): void {
    this.add('debug', message);
  }
  verbose(message: unknown): void {
    this.add('verbose', message);
  }
  fatal(message: unknown): void {
    this.add('fatal', message);
  }

  /** Messages containing `text`. */
  matching(text: string): string[] {
    return this.lines
      .map((line) => line.message)
      .filter((message) => message.includes(text));
  }

  /** Warnings and errors, for a failure message. */
  problems(): string {
    return this.lines
      .filter((line) => line.level !== 'log')
      .map((line) => `[${line.level}] ${line.message}`)
      .join('\n');
  }
}

/** Sends Nest's log (the library's included) to a `CapturedLogs`, from now on in this test file. */
export function captureLogs(): CapturedLogs {
  const logs = new CapturedLogs();
  Logger.overrideLogger(logs);
  return logs;
}

export const sleep = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An app of the fault suites: FaultTasks and FinishedEvents on a DatabaseBackend, its logs captured. */
export async function bootFaultApp(
  dataSource: DataSource,
  tableName: string,
  leaseMs: number,
): Promise<{
  moduleRef: TestingModule;
  queue: TaskQueue;
  tasks: FaultTasks;
  events: FinishedEvents;
  logs: CapturedLogs;
}> {
  const moduleRef = await bootTasksApp({
    dataSource,
    tableName,
    leaseMs,
    providers: [FaultTasks, FinishedEvents],
  });
  return {
    moduleRef,
    logs: captureLogs(),
    queue: moduleRef.get(TaskQueue),
    tasks: moduleRef.get(FaultTasks),
    events: moduleRef.get(FinishedEvents),
  };
}
