import { TaskMessages } from '../tasks.messages.js';
import { Logger } from '@nestjs/common';
import type { EntityManager, QueryRunner } from 'typeorm';
import { LOGGER_CONTEXT } from '../tasks.constants.js';
import type { TransactionScope } from './transaction-scope.js';

interface Hook {
  /** The transaction depth (1 = outermost) the hook belongs to. */
  depth: number;
  commit?: () => Promise<void>;
  rollback?: () => Promise<void>;
}

/** TypeORM keeps the savepoint depth in a protected field; read, never written. */
const depthOf = (runner: QueryRunner): number =>
  (runner as unknown as { transactionDepth: number }).transactionDepth;

/**
 * The on-commit port over a TypeORM QueryRunner. Its commit and rollback are
 * wrapped once: callbacks run after the outermost COMMIT only (a savepoint
 * release is not a commit), those registered inside a savepoint that rolls
 * back are dropped with it, and callbacks are awaited by the committing code.
 */
class QueryRunnerScope implements TransactionScope {
  private hooks: Hook[] = [];

  constructor(
    private readonly runner: QueryRunner,
    readonly manager: EntityManager,
  ) {
    const commit = runner.commitTransaction.bind(runner);
    const rollback = runner.rollbackTransaction.bind(runner);
    runner.commitTransaction = async () => {
      await commit();
      await this.afterCommit();
    };
    runner.rollbackTransaction = async () => {
      await rollback();
      await this.afterRollback();
    };
  }

  isActive(): boolean {
    return this.runner.isTransactionActive;
  }

  onCommit(callback: () => Promise<void>): void {
    this.hooks.push({ depth: depthOf(this.runner), commit: callback });
  }

  onRollback(callback: () => Promise<void>): void {
    this.hooks.push({ depth: depthOf(this.runner), rollback: callback });
  }

  private async afterCommit(): Promise<void> {
    if (this.runner.isTransactionActive) {
      // A savepoint was released: its hooks now belong to the enclosing level.
      const depth = depthOf(this.runner);
      for (const hook of this.hooks) hook.depth = Math.min(hook.depth, depth);
      return;
    }
    const hooks = this.take(() => true);
    for (const hook of hooks) await runIsolated(hook.commit);
  }

  private async afterRollback(): Promise<void> {
    const depth = this.runner.isTransactionActive ? depthOf(this.runner) : 0;
    const dropped = this.take((hook) => hook.depth > depth);
    for (const hook of dropped) await runIsolated(hook.rollback);
  }

  private take(matches: (hook: Hook) => boolean): Hook[] {
    const taken = this.hooks.filter(matches);
    this.hooks = this.hooks.filter((hook) => !matches(hook));
    return taken;
  }
}

/** Runs a hook after COMMIT/ROLLBACK: its failure is logged, never thrown into the code that committed. */
async function runIsolated(
  hook: (() => Promise<void>) | undefined,
): Promise<void> {
  try {
    await hook?.();
  } catch (error) {
    new Logger(LOGGER_CONTEXT).error(
      TaskMessages.transactionHookFailed(),
      (error as Error)?.stack ?? String(error),
    );
  }
}

const scopes = new WeakMap<QueryRunner, QueryRunnerScope>();

/** The scope of the transaction `manager` runs in, or null when it runs in none. */
export function transactionScopeOf(
  manager: EntityManager,
): TransactionScope | null {
  const runner = manager.queryRunner;
  if (!runner || !runner.isTransactionActive) return null;
  let scope = scopes.get(runner);
  if (!scope) {
    scope = new QueryRunnerScope(runner, manager);
    scopes.set(runner, scope);
  }
  return scope;
}
