import type { EntityManager } from 'typeorm';

/**
 * The on-commit port: a unit of work (a database transaction, an HTTP
 * request) whose outcome decides whether held enqueues are dispatched.
 */
export interface TransactionScope {
  /** The TypeORM transaction's manager, when the scope is one. */
  readonly manager: EntityManager | null;
  isActive(): boolean;
  /** Runs `callback` after the scope succeeds (for a transaction: its outermost COMMIT), awaited. */
  onCommit(callback: () => Promise<void>): void;
  /** Runs `callback` when the scope fails, or when the savepoint the callback was registered in rolls back. */
  onRollback(callback: () => Promise<void>): void;
}
