export { TasksTestingModule } from './tasks-testing.module.js';
export { TaskQueueTester, type RunAllOptions } from './task-queue-tester.js';
