import { Injectable } from '@nestjs/common';
import { Task, TaskContext } from 'nestjs-tasks';

/** Tasks that end each way the dashboard shows: succeeded, retried, failed. */
@Injectable()
export class DemoTasks {
  /** Succeeds at once. */
  @Task({ queueName: 'emails' })
  sendWelcome(to: string): { sent: string } {
    return { sent: to };
  }

  /** Fails twice (a flaky partner), then succeeds on its third attempt. */
  @Task({ takesContext: true, maxAttempts: 3, retryDelay: 200 })
  syncInvoice(ctx: TaskContext, invoice: number): { invoice: number } {
    if (ctx.attempt < 3)
      throw new Error(`The billing API timed out (attempt ${ctx.attempt})`);
    return { invoice };
  }

  /** Always fails: its result is FAILED, with the traceback on its page. */
  @Task()
  importFile(name: string): never {
    throw new Error(`Cannot import ${name}: line 3 has 4 columns, not 5`);
  }

  /** Enqueued every minute by the worker: it shows under "Periodic tasks". */
  @Task({ schedule: '* * * * *' })
  cleanUp(): void {}
}
