import type { EntityManager } from 'typeorm';

/**
 * Finds the TypeORM transaction active in the current async context, for one
 * way of running transactions (TaskQueue.transaction, @nestjs-cls/transactional,
 * typeorm-transactional). Enqueues made while it returns a manager join that
 * transaction.
 */
export interface AmbientTransactionSource {
  /** A name for logs, e.g. 'typeorm-transactional'. */
  readonly name: string;
  /** The EntityManager of the transaction active here, or null when none is. */
  currentManager(): EntityManager | null;
}
