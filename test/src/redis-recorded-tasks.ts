import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Redis } from 'ioredis';
import { Task, type TaskContext } from '../../lib/index.js';

/** One run of a task, as the BullMQ process suites record it. */
export interface RecordedRun {
  id: string;
  pid: number;
  attempt: number;
}

/** The Redis list the runs under `prefix` are recorded in. */
export const runsKey = (prefix: string): string => `${prefix}:test-runs`;

/**
 * Tasks the BullMQBackend process suites drive; every run is recorded in
 * the Redis list `<TASKS_TEST_REDIS_PREFIX>:test-runs`.
 */
@Injectable()
export class RedisRecordedTasks implements OnModuleDestroy {
  private readonly redis = new Redis({
    host: '127.0.0.1',
    port: Number(process.env.TASKS_TEST_REDIS_PORT ?? 6379),
    lazyConnect: true,
  });

  private async recordRun(ctx: TaskContext): Promise<void> {
    const run: RecordedRun = {
      id: ctx.taskResult.id,
      pid: process.pid,
      attempt: ctx.attempt,
    };
    await this.redis.rpush(
      runsKey(String(process.env.TASKS_TEST_REDIS_PREFIX)),
      JSON.stringify(run),
    );
  }

  @Task({ takesContext: true })
  async record(ctx: TaskContext, index: number): Promise<number> {
    await this.recordRun(ctx);
    return index;
  }

  @Task({ takesContext: true })
  async sleep(ctx: TaskContext, ms: number): Promise<string> {
    await this.recordRun(ctx);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return `slept ${ms}`;
  }

  /** Sleeps `ms` on its first attempt only; a second attempt returns at once. */
  @Task({ takesContext: true, maxAttempts: 2, retryDelay: 0 })
  async sleepFirstAttempt(ctx: TaskContext, ms: number): Promise<string> {
    await this.recordRun(ctx);
    if (ctx.attempt === 1)
      await new Promise((resolve) => setTimeout(resolve, ms));
    return `attempt ${ctx.attempt}`;
  }

  /** Stops when its signal aborts, throwing its reason. */
  @Task({ takesContext: true, maxAttempts: 3, retryDelay: 0 })
  async untilCancelled(ctx: TaskContext): Promise<string> {
    await this.recordRun(ctx);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 60_000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    ctx.signal.throwIfAborted();
    return 'never cancelled';
  }

  async onModuleDestroy(): Promise<void> {
    this.redis.disconnect();
  }
}
