import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Task, type TaskContext } from '../../lib/index.js';

/** Tasks the process-level suites drive; every run is recorded in the `<table>_runs` table. */
@Injectable()
export class ProcessTasks {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private async recordRun(ctx: TaskContext): Promise<void> {
    const table = `${process.env.TASKS_TEST_TABLE}_runs`;
    const params = [ctx.taskResult.id, process.pid, ctx.attempt];
    const placeholders =
      this.dataSource.options.type === 'postgres' ? '$1, $2, $3' : '?, ?, ?';
    await this.dataSource.query(
      `INSERT INTO ${table} (result_id, pid, attempt) VALUES (${placeholders})`,
      params,
    );
  }

  @Task({ takesContext: true, queueName: 'default' })
  async record(ctx: TaskContext, index: number): Promise<number> {
    await this.recordRun(ctx);
    return index;
  }

  @Task({ takesContext: true, queueName: 'default' })
  async sleep(ctx: TaskContext, ms: number): Promise<string> {
    await this.recordRun(ctx);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return `slept ${ms}`;
  }

  /** Unique by its key: while one is READY or RUNNING, an enqueue of the same key returns it. */
  @Task({ queueName: 'default', unique: { key: (key: string) => key } })
  async keyed(key: string): Promise<string> {
    return key;
  }

  /** Resolves once its signal aborts, or after a minute. */
  private async aborted(ctx: TaskContext): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops when its signal aborts, throwing its reason. Attempts to spare. */
  @Task({
    takesContext: true,
    queueName: 'default',
    maxAttempts: 3,
    retryDelay: 0,
  })
  async untilCancelled(ctx: TaskContext): Promise<string> {
    await this.recordRun(ctx);
    await this.aborted(ctx);
    ctx.signal.throwIfAborted();
    return 'never cancelled';
  }

  /**
   * Does not stop when its signal aborts: works `ms` more, saves the abort
   * reason it saw as metadata, and returns. Attempts to spare.
   */
  @Task({
    takesContext: true,
    queueName: 'default',
    maxAttempts: 3,
    retryDelay: 0,
  })
  async ignoresCancel(ctx: TaskContext, ms: number): Promise<string> {
    await this.recordRun(ctx);
    await this.aborted(ctx);
    await new Promise((resolve) => setTimeout(resolve, ms));
    await ctx.setProgress(1, {
      abortedWith: (ctx.signal.reason as Error | undefined)?.name ?? null,
    });
    return `worked ${ms} ms more`;
  }

  /** Writes its effect through its attempt's transaction, then takes `ms` to finish. */
  @Task({
    takesContext: true,
    queueName: 'default',
    transactional: true,
    maxAttempts: 2,
    retryDelay: 0,
  })
  async transactionalEffect(ctx: TaskContext, ms: number): Promise<string> {
    const table = `${process.env.TASKS_TEST_TABLE}_effects`;
    const placeholders =
      this.dataSource.options.type === 'postgres' ? '$1, $2' : '?, ?';
    await ctx.manager!.query(
      `INSERT INTO ${table} (result_id, pid) VALUES (${placeholders})`,
      [ctx.taskResult.id, process.pid],
    );
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'written';
  }
}
