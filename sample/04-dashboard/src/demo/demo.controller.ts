import { Controller, Post } from '@nestjs/common';
import { TaskQueue } from 'nestjs-tasks';
import { DemoTasks } from './demo.tasks.js';

@Controller('demo')
export class DemoController {
  constructor(private readonly tasks: TaskQueue) {}

  /** Enqueues a few tasks of each kind, to fill the dashboard. */
  @Post()
  async fill() {
    const emails = await this.tasks
      .task(DemoTasks, 'sendWelcome')
      .enqueueMany([['ada@example.com'], ['grace@example.com']]);
    const sync = await this.tasks.enqueue(DemoTasks, 'syncInvoice', 1042);
    const failing = await this.tasks.enqueue(
      DemoTasks,
      'importFile',
      'customers.csv',
    );
    return {
      emails: emails.map((result) => result.id),
      retried: sync.id,
      failing: failing.id,
    };
  }
}
