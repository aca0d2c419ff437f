import type { TaskDefinition } from '../task/task-definition.js';
import type { TaskSchedule } from '../task/task-schedule.js';

/** One `@Task()` method found in the application. */
export interface RegisteredTask {
  name: string;
  /** `Class.method`, for messages. */
  site: string;
  instance: object;
  methodName: string;
  definition: TaskDefinition<any, any>;
  /** When workers enqueue it (`@Task({ schedule })`), or null. */
  schedule: TaskSchedule | null;
}

/** Finds the code behind a stored task name (the registry implements it). */
export interface TaskLookup {
  find(name: string): RegisteredTask | undefined;
}
