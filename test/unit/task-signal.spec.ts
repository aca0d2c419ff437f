import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
  TaskTimeoutError,
  type TaskContext,
} from '../../lib/index.js';

@Injectable()
class PatientTasks {
  readonly observed: unknown[] = [];

  /** Waits until its signal is aborted, and records why. */
  @Task({ takesContext: true, timeout: 50 })
  async waitForStop(ctx: TaskContext): Promise<void> {
    await new Promise<void>((resolve) =>
      ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    this.observed.push(ctx.signal.reason);
  }

  @Task({ takesContext: true })
  async quick(ctx: TaskContext): Promise<boolean> {
    return ctx.signal.aborted;
  }
}

describe('TaskContext.signal', () => {
  it('is aborted with the TaskTimeoutError when an attempt runs past its timeout', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot()],
      providers: [PatientTasks],
    }).compile();
    moduleRef.useLogger(false);
    await moduleRef.init();
    try {
      const queue = moduleRef.get(TaskQueue);
      const result = await queue.enqueue(PatientTasks, 'waitForStop');
      expect(result.status).toBe(TaskResultStatus.FAILED);
      expect(result.errors[0].errorClass).toBe('TaskTimeoutError');
      await new Promise((resolve) => setImmediate(resolve));
      const tasks = moduleRef.get(PatientTasks);
      expect(tasks.observed).toHaveLength(1);
      expect(tasks.observed[0]).toBeInstanceOf(TaskTimeoutError);
      expect((await queue.enqueue(PatientTasks, 'quick')).returnValue).toBe(
        false,
      );
    } finally {
      await moduleRef.close();
    }
  });
});
