import { Module, type DynamicModule } from '@nestjs/common';
import { DummyBackend } from '../backends/dummy/dummy.backend.js';
import {
  TASKS_BACKEND_OVERRIDE,
  TASKS_IN_PROCESS_WORKER_DISABLED,
  TASKS_TRANSACTIONS_WITHOUT_DATABASE,
} from '../tasks.constants.js';
import { TaskQueueTester } from './task-queue-tester.js';

/**
 * Import next to an application that uses `TasksModule.forRoot()`: every
 * configured backend becomes a `DummyBackend` (same aliases and queues), the
 * in-process worker stays off, `TaskQueue.transaction()` runs in memory when
 * the application registers no DataSource, and `TaskQueueTester` is
 * injectable.
 */
@Module({})
export class TasksTestingModule {
  static forRoot(): DynamicModule {
    return {
      module: TasksTestingModule,
      global: true,
      providers: [
        { provide: TASKS_BACKEND_OVERRIDE, useValue: DummyBackend },
        { provide: TASKS_IN_PROCESS_WORKER_DISABLED, useValue: true },
        { provide: TASKS_TRANSACTIONS_WITHOUT_DATABASE, useValue: true },
        TaskQueueTester,
      ],
      exports: [
        TASKS_BACKEND_OVERRIDE,
        TASKS_IN_PROCESS_WORKER_DISABLED,
        TASKS_TRANSACTIONS_WITHOUT_DATABASE,
        TaskQueueTester,
      ],
    };
  }
}
