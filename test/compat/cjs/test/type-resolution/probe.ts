// Type-checked by test/compat/run.sh under every moduleResolution: the
// package's entry points must resolve to real types in each.
import { TaskQueue, TasksModule, type TaskResult } from 'nestjs-tasks';
import { TaskQueueTester, TasksTestingModule } from 'nestjs-tasks/testing';
import { TasksDashboardModule } from 'nestjs-tasks/dashboard';

export function probe(tester: TaskQueueTester, queue: TaskQueue): number {
  const results: TaskResult<unknown>[] = tester.enqueued();
  const modules: unknown[] = [
    TasksModule.forRoot(),
    TasksTestingModule.forRoot(),
    TasksDashboardModule.forRoot({ public: true, readOnly: true }),
  ];
  return (
    results.length + modules.length + (queue.backend().alias as string).length
  );
}
