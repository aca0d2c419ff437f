import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  DatabaseBackend,
  DummyBackend,
  InvalidTaskError,
  Task,
  TaskQueue,
  TasksModule,
} from '../../lib/index.js';
import {
  TaskQueueTester,
  TasksTestingModule,
} from '../../lib/testing/index.js';

@Injectable()
class ReportTasks {
  @Task({ unique: { key: (accountId: number) => `account-${accountId}` } })
  async rebuild(accountId: number): Promise<number> {
    return accountId;
  }
}

describe('unique tasks', () => {
  it('return the pending result for the same key instead of enqueueing again, until it has run', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TasksModule.forRoot({
          backends: { default: { backend: DummyBackend } },
        }),
        TasksTestingModule.forRoot(),
      ],
      providers: [ReportTasks],
    }).compile();
    await moduleRef.init();
    try {
      const queue = moduleRef.get(TaskQueue);
      const first = await queue.enqueue(ReportTasks, 'rebuild', 1);
      expect((await queue.enqueue(ReportTasks, 'rebuild', 1)).id).toBe(
        first.id,
      );
      const other = await queue.enqueue(ReportTasks, 'rebuild', 2);
      expect(other.id).not.toBe(first.id);
      const forced = await queue
        .task(ReportTasks, 'rebuild')
        .using({ uniqueKey: 'manual' })
        .enqueue(1);
      expect(forced.id).not.toBe(first.id);
      expect(
        (
          await queue
            .task(ReportTasks, 'rebuild')
            .using({ uniqueKey: 'manual' })
            .enqueue(3)
        ).id,
      ).toBe(forced.id);
      expect((queue.backend() as DummyBackend).results).toHaveLength(3);
      await moduleRef.get(TaskQueueTester).runAll();
      expect((await queue.enqueue(ReportTasks, 'rebuild', 1)).id).not.toBe(
        first.id,
      );
    } finally {
      await moduleRef.close();
    }
  });

  it('are refused at bootstrap by a DatabaseBackend, which does not enforce them yet', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TasksModule.forRoot({
          backends: { default: { backend: DatabaseBackend } },
        }),
      ],
      providers: [ReportTasks],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(InvalidTaskError);
    await moduleRef.close();
  });
});
