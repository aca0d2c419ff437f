import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidTaskError,
  OnTaskEvent,
  Task,
  TaskQueue,
  TaskResultStatus,
  TasksModule,
  type TaskEvent,
} from '../../lib/index.js';

class ReportTasks {
  constructor(private readonly prefix: string) {}

  @Task()
  async render(name: string): Promise<string> {
    return `${this.prefix}:${name}`;
  }
}

class ArchiveTasks {
  @Task({ name: 'archive.compress' })
  async compress(size: number): Promise<number> {
    return size / 2;
  }
}

@Injectable()
class BaseTasks {
  @Task({ name: 'base.ping' })
  async ping(): Promise<string> {
    return `pong from ${this.constructor.name}`;
  }
}

@Injectable()
class DerivedTasks extends BaseTasks {}

@Injectable()
class Listener {
  readonly heard: string[] = [];

  @OnTaskEvent('finished')
  onFinished({ result }: TaskEvent) {
    this.heard.push(result.task.name);
  }
}

class NotProvided {
  @Task()
  async orphan(): Promise<void> {}
}

@Module({
  providers: [
    { provide: 'REPORTS', useFactory: () => new ReportTasks('factory') },
  ],
  exports: ['REPORTS'],
})
class ReportsModule {}

describe('task discovery', () => {
  it('finds tasks on factory, value and inherited providers in any module, and runs them on that instance', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot(), ReportsModule],
      providers: [
        { provide: 'ARCHIVE', useValue: new ArchiveTasks() },
        DerivedTasks,
      ],
    }).compile();
    await moduleRef.init();
    const queue = moduleRef.get(TaskQueue);
    try {
      const report = await queue.enqueue(ReportTasks, 'render', 'q3');
      expect(report.status).toBe(TaskResultStatus.SUCCESSFUL);
      expect(report.returnValue).toBe('factory:q3');
      expect(report.task.name).toBe('ReportTasks.render');
      expect(
        (await queue.task<[number], number>('archive.compress').enqueue(8))
          .returnValue,
      ).toBe(4);
      expect((await queue.enqueue(DerivedTasks, 'ping')).returnValue).toBe(
        'pong from DerivedTasks',
      );
      expect(queue.task(BaseTasks, 'ping').name).toBe('base.ping');
    } finally {
      await moduleRef.close();
    }
  });

  it('explains a task whose class is no provider of the application', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot()],
    }).compile();
    await moduleRef.init();
    try {
      expect(() =>
        moduleRef.get(TaskQueue).task(NotProvided, 'orphan'),
      ).toThrow(InvalidTaskError);
      expect(() =>
        moduleRef.get(TaskQueue).task(NotProvided, 'orphan'),
      ).toThrow(/not a provider of any module/);
    } finally {
      await moduleRef.close();
    }
  });

  it('registers a task and a listener once when their provider is also reachable through a useExisting alias', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TasksModule.forRoot()],
      providers: [
        DerivedTasks,
        { provide: 'PINGER', useExisting: DerivedTasks },
        Listener,
        { provide: 'LISTENER', useExisting: Listener },
      ],
    }).compile();
    await moduleRef.init();
    try {
      await moduleRef.get(TaskQueue).enqueue(DerivedTasks, 'ping');
      expect(moduleRef.get(Listener).heard).toEqual(['base.ping']);
    } finally {
      await moduleRef.close();
    }
  });
});
