import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DatabaseBackend,
  DummyBackend,
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
} from '../../lib/index.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';

@Injectable()
class BillingTasks {
  @Task({ queueName: 'billing', backend: 'jobs' })
  async invoice(orderId: number): Promise<string> {
    return `invoice-${orderId}`;
  }
}

/** A production-like module: database backends and an in-process worker, no database in the test. */
@Module({
  imports: [
    TasksModule.forRoot({
      backends: {
        default: { backend: DatabaseBackend },
        jobs: {
          backend: DatabaseBackend,
          queues: ['billing'],
          options: { dataSource: 'jobs' },
        },
      },
      worker: { backend: 'jobs', concurrency: 2 },
    }),
  ],
  providers: [BillingTasks],
})
class ProductionLikeModule {}

describe('TasksTestingModule next to an application module', () => {
  it('swaps every backend for a DummyBackend with the same aliases and queues, and starts no worker', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ProductionLikeModule, TasksTestingModule.forRoot()],
    }).compile();
    await moduleRef.init();
    try {
      const queue = moduleRef.get(TaskQueue);
      expect(queue.backend()).toBeInstanceOf(DummyBackend);
      expect(queue.backend('jobs')).toBeInstanceOf(DummyBackend);
      expect(queue.backend('jobs').queues).toEqual(['billing']);
      const result = await queue.enqueue(BillingTasks, 'invoice', 42);
      expect(result.status).toBe(TaskResultStatus.READY);
      const tester = moduleRef.get(TaskQueueTester);
      expect(tester.enqueued(BillingTasks, 'invoice')).toHaveLength(1);
      await tester.runAll();
      await result.refresh();
      expect(result.returnValue).toBe('invoice-42');
    } finally {
      await moduleRef.close();
    }
  });
});
