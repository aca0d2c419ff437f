import { Injectable, Module } from '@nestjs/common';
import {
  DummyBackend,
  InvalidTaskBackendError,
  TasksModule,
  type TasksModuleOptions,
  type TasksOptionsFactory,
} from '../../lib/index.js';
import { bootApp } from '../support/boot-app.js';
import { MathTasks } from '../fixtures/tasks.fixtures.js';

@Injectable()
class TasksConfig implements TasksOptionsFactory {
  createTasksOptions(): TasksModuleOptions {
    return {
      backends: {
        default: { backend: DummyBackend, queues: ['default', 'reports'] },
      },
    };
  }
}

@Module({ providers: [TasksConfig], exports: [TasksConfig] })
class ConfigModule {}

describe('TasksModule.forRootAsync', () => {
  it('takes its options from a TasksOptionsFactory class (useClass)', async () => {
    const app = await bootApp({
      tasksModule: TasksModule.forRootAsync({ useClass: TasksConfig }),
      providers: [MathTasks],
    });
    try {
      expect(app.tasks.backend()).toBeInstanceOf(DummyBackend);
      expect(app.tasks.backend().queues).toEqual(['default', 'reports']);
    } finally {
      await app.close();
    }
  });

  it('takes its options from an existing provider (useExisting)', async () => {
    const app = await bootApp({
      tasksModule: TasksModule.forRootAsync({
        imports: [ConfigModule],
        useExisting: TasksConfig,
      }),
      providers: [MathTasks],
    });
    try {
      expect(app.tasks.backend().queues).toEqual(['default', 'reports']);
    } finally {
      await app.close();
    }
  });

  it('refuses none or more than one of useFactory, useClass and useExisting', () => {
    expect(() => TasksModule.forRootAsync({})).toThrow(InvalidTaskBackendError);
    expect(() =>
      TasksModule.forRootAsync({
        useClass: TasksConfig,
        useFactory: () => ({}),
      }),
    ).toThrow(/exactly one of useFactory, useClass or useExisting \(2 given\)/);
  });
});
