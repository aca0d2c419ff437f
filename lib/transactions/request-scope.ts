import type { TransactionScope } from './transaction-scope.js';

/** Enqueues held while one HTTP request is handled: dispatched if the handler succeeds, dropped if it throws. */
export class RequestScope implements TransactionScope {
  readonly manager = null;
  private commits: (() => Promise<void>)[] = [];
  private rollbacks: (() => Promise<void>)[] = [];
  private settled = false;

  isActive(): boolean {
    return !this.settled;
  }

  onCommit(callback: () => Promise<void>): void {
    this.commits.push(callback);
  }

  onRollback(callback: () => Promise<void>): void {
    this.rollbacks.push(callback);
  }

  async commit(): Promise<void> {
    await this.settle(this.commits);
  }

  async rollback(): Promise<void> {
    await this.settle(this.rollbacks);
  }

  private async settle(callbacks: (() => Promise<void>)[]): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    this.commits = [];
    this.rollbacks = [];
    for (const callback of callbacks) await callback();
  }
}
