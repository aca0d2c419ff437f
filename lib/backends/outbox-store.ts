import type { DataSource, EntityManager } from 'typeorm';
import type { TaskResultData } from '../task/task-result-data.js';

/** An outbox row read back: the result to relay, or why its payload cannot be read. */
export interface OutboxEntry {
  id: string;
  data: TaskResultData | null;
  /** What is wrong with the payload, or null. */
  problem: string | null;
}

/** The outbox table, as messages name it and say how to create it. */
export interface OutboxTable {
  name: string;
  /** The tasks table it is named after: the migration list that creates it is that table's (`taskMigrations`, `createTaskMigrations('t')`). */
  tasksTable: string;
  /** The name of the migration in that list that creates it. */
  migration: string;
}

/**
 * The outbox table of a backend alias with `outbox`, on the outbox's
 * DataSource: rows written in the application's transactions, taken by
 * sweeps, deleted once relayed. What the dispatcher needs of it; the
 * implementation is the database backend's.
 */
export interface OutboxStore {
  readonly table: OutboxTable;

  /** Whether the transaction of `manager` runs on this outbox's DataSource (an enqueue in it is written here). */
  joins(manager: EntityManager): boolean;

  /**
   * Writes a row per result in the transaction of `manager` (which it
   * `joins`), due for a sweep `graceMs` from now.
   */
  write(
    manager: EntityManager,
    results: readonly TaskResultData[],
    graceMs: number,
  ): Promise<void>;

  /** Whether `error` (thrown by a write) says the outbox table does not exist. */
  isMissingTable(error: unknown): boolean;

  /**
   * Takes up to `limit` rows of the alias `backend` that are due (no sweep
   * holds them), or due within `aheadMs`, skipping rows another sweep is
   * taking, and holds them for `leaseMs`: no other sweep takes them
   * meanwhile.
   */
  claim(
    backend: string,
    limit: number,
    leaseMs: number,
    aheadMs?: number,
  ): Promise<OutboxEntry[]>;

  /** Deletes the rows of these ids (relayed). */
  remove(ids: readonly string[]): Promise<void>;

  /** Leaves the rows of these ids to no sweep for `ms` (rows that could not be relayed). */
  postpone(ids: readonly string[], ms: number): Promise<void>;

  /** What the outbox table lacks against this version's, in words (`no table 'x'`, the missing columns and indexes), or null. */
  lag(): Promise<string | null>;

  /** Closes the store's own connection, if it has one apart from the application's. */
  close(): Promise<void>;
}

/**
 * Opens the outbox table named after `tableName` (`TaskOutboxOptions`) on
 * an application's DataSource, creating it under `synchronize: true`.
 * `who` names the outbox in warnings. Injected as
 * `TASKS_OUTBOX_STORE_OPENER`.
 */
export type OutboxStoreOpener = (
  dataSource: DataSource,
  tableName: string | undefined,
  who: string,
) => Promise<OutboxStore>;
