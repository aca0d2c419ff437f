export { TasksTestingModule } from './tasks-testing.module.js';
export { TaskQueueTester } from './task-queue-tester.js';
