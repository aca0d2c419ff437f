import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  Task,
  TaskQueue,
  TasksModule,
  TaskResultStatus,
  DummyBackend,
} from '../lib/index.js';

@Injectable()
class MathTasks {
  @Task()
  async add(a: number, b: number): Promise<number> {
    return a + b;
  }
}

describe('smoke', () => {
  it('runs an immediate task', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot()],
      providers: [MathTasks],
    }).compile();
    await moduleRef.init();
    const queue = moduleRef.get(TaskQueue);
    const result = await queue.enqueue(MathTasks, 'add', 1, 2);
    expect(result.status).toBe(TaskResultStatus.SUCCESSFUL);
    expect(result.returnValue).toBe(3);
    await moduleRef.close();
  });
  it('stores on dummy', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        TasksModule.forRoot({
          backends: { default: { backend: DummyBackend } },
        }),
      ],
      providers: [MathTasks],
    }).compile();
    await moduleRef.init();
    const queue = moduleRef.get(TaskQueue);
    const result = await queue
      .task(MathTasks, 'add')
      .using({ priority: 5 })
      .enqueue(1, 2);
    expect(result.status).toBe(TaskResultStatus.READY);
    expect((await queue.getResult(result.id)).task.priority).toBe(5);
    await moduleRef.close();
  });
});
