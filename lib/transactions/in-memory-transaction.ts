import { EntityManager } from 'typeorm';
import { InvalidTaskBackendError } from '../errors/invalid-task-backend.error.js';
import { TaskMessages } from '../tasks.messages.js';

/**
 * `TaskQueue.transaction()` without a database, under TasksTestingModule when
 * the application registers no DataSource. It offers what the on-commit port
 * reads from a TypeORM QueryRunner (whether a transaction is active, its
 * depth, commit and rollback), so enqueues made inside are held until the
 * callback resolves and dropped when it throws; nested calls are savepoints.
 */
export class InMemoryTransaction {
  isTransactionActive = false;
  /** Read by the on-commit port, as TypeORM's field of that name. */
  protected transactionDepth = 0;
  /** Handed to the callbacks: every EntityManager method throws, saying there is no database. */
  readonly manager: EntityManager = placeholderManager(this);

  /** The in-memory transaction `manager` belongs to, if it is a placeholder. */
  static of(manager: EntityManager): InMemoryTransaction | undefined {
    const runner: unknown = manager.queryRunner;
    return runner instanceof InMemoryTransaction ? runner : undefined;
  }

  /** Runs `work` at a new depth: committed when it resolves, rolled back when it throws. */
  async run<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    this.transactionDepth += 1;
    this.isTransactionActive = true;
    let result: T;
    try {
      result = await work(this.manager);
    } catch (error) {
      await this.rollbackTransaction();
      throw error;
    }
    await this.commitTransaction();
    return result;
  }

  async commitTransaction(): Promise<void> {
    this.leave();
  }

  async rollbackTransaction(): Promise<void> {
    this.leave();
  }

  private leave(): void {
    this.transactionDepth -= 1;
    this.isTransactionActive = this.transactionDepth > 0;
  }
}

/** An EntityManager whose every method throws an error saying why and what to do. */
function placeholderManager(transaction: InMemoryTransaction): EntityManager {
  const manager = Object.create(EntityManager.prototype) as EntityManager;
  for (const [name, descriptor] of Object.entries(
    Object.getOwnPropertyDescriptors(EntityManager.prototype),
  )) {
    if (name === 'constructor' || typeof descriptor.value !== 'function')
      continue;
    Object.defineProperty(manager, name, {
      configurable: true,
      writable: true,
      value: () => {
        throw new InvalidTaskBackendError(
          TaskMessages.noDatabaseInTesting(`manager.${name}()`),
        );
      },
    });
  }
  Object.defineProperty(manager, 'queryRunner', { value: transaction });
  return manager;
}
